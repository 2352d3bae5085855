// `chorus peer`: one node of a swarm. Start it with the addresses of any members (--seeds);
// with none reachable it starts a new swarm alone.
#include <memory>

#include "foundations/crypto/swarm_key.h"
#include "peers/runtime/peer_runtime.h"
#include "tools/chorus/command.h"
#include "tools/chorus/peer_options.h"

namespace chorus::tools {
namespace {

const bool registered = register_command(
    {"peer", "Run one peer of a swarm: join through seeds, train, exchange, checkpoint",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<PeerOptions>();
       add_peer_options(app, *o);
       return [o] {
         // Everything before the peer writes its first file or opens its first socket.
         check_peer_options(*o);
         check_log_path(o->train);
         if (!o->config.key_path.empty()) SwarmKey::load(o->config.key_path);
         return run_peer(peer_config(*o));
       };
     }});

}  // namespace
}  // namespace chorus::tools
