// chorus keygen --out swarm.key: writes a new swarm key (mode 0600). Every peer of a swarm is
// started with the same key file; see foundations/crypto/swarm_key.h.
#include <fmt/core.h>

#include <memory>
#include <string>

#include "foundations/crypto/swarm_key.h"
#include "tools/chorus/command.h"

namespace {

struct KeygenOptions {
  std::string out;
  bool force = false;
};

const bool registered = chorus::tools::register_command(
    {"keygen", "Write a new swarm key (share it with every peer of the swarm, nobody else)",
     [](CLI::App& app) {
       auto opts = std::make_shared<KeygenOptions>();
       app.add_option("--out", opts->out, "Key file to write (created with mode 0600)")->required();
       app.add_flag("--force", opts->force, "Replace an existing file");
       return [opts]() -> int {
         const chorus::SwarmKey key = chorus::SwarmKey::generate();
         key.save(opts->out, opts->force);
         fmt::print("wrote swarm key {} (swarm id {:016x}); give it to every peer of the swarm and "
                    "keep it secret\n", opts->out, key.swarm_id());
         return 0;
       };
     }});

}  // namespace
