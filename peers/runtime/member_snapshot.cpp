#include "peers/runtime/member_snapshot.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "foundations/train/checkpoint_store.h"

namespace chorus {

namespace {
constexpr std::size_t kMaxRead = 4096;  // like the member table
}  // namespace

MemberSnapshot::MemberSnapshot(std::string directory) : path_(std::move(directory) + "/members.json") {}

std::vector<std::string> MemberSnapshot::load(std::string* problem) const {
  std::vector<std::string> out;
  std::ifstream in(path_);
  if (!in) return out;
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) {
    if (problem) *problem = fmt::format("{} is not a list of members; ignoring it", path_);
    return out;
  }
  for (const auto& m : doc) {
    if (!m.is_object() || !m.contains("address") || !m["address"].is_string()) continue;
    const std::string address = m["address"].get<std::string>();
    if (address.empty() || address.size() > 255) continue;
    out.push_back(address);
    if (out.size() >= kMaxRead) break;
  }
  // Every join try goes to each address: a random few of a large swarm find it as surely.
  std::shuffle(out.begin(), out.end(), std::mt19937_64(std::random_device{}()));
  if (out.size() > MemberSnapshot::kMaxAddresses) out.resize(MemberSnapshot::kMaxAddresses);
  return out;
}

void MemberSnapshot::save(const View& view, PeerId self) {
  std::vector<std::pair<PeerId, std::string>> members;
  for (const auto& m : view.members)
    if (m.id != self) members.emplace_back(m.id, m.address);
  if (members.empty() || members == saved_) return;
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& [id, address] : members) doc.push_back({{"id", fmt::format("{:016x}", id)}, {"address", address}});
  write_file_atomically(path_, doc.dump() + "\n");
  saved_ = std::move(members);
}

}  // namespace chorus
