#pragma once
// Readiness: whether a member's strategy runs, read from the metadata every member publishes
// through membership (Membership::set_meta, Member::meta) — the one start-up handshake of every
// strategy family. make_strategy() announces "strategy=NAME" once the strategy is built. A
// member that has not (it is still loading its data or pulling its state, or it has just
// restarted: a new incarnation publishes nothing until its strategy runs) is waited on only
// briefly by exchanges (ExchangeTimings::first_contact_timeout), and a swarm that starts
// together waits, bounded, until every member is ready before its first step
// (Strategy::wait_until_ready).
//
// Pure functions of what membership knows; thread-safe as Membership is. wait_until_all_ready
// blocks at most its timeout.
#include <chrono>
#include <functional>
#include <string>

#include "peers/membership/membership.h"
#include "topology/view.h"

namespace chorus::readiness {

// Publishes that this member runs `strategy`.
void announce(Membership& membership, const std::string& strategy);

// The strategy member `id` announced, "" when none (yet).
std::string strategy_of(const Membership& membership, PeerId id);

bool is_ready(const Membership& membership, PeerId id);
// The same, from a member's record as a view holds it.
bool is_ready(const Member& member);

// Waits at most `timeout` until every member of `view` other than `self` that is still a member
// is ready, calling `between` (which must return soon) while it waits. Returns whether all were.
bool wait_until_all_ready(const Membership& membership, const View& view, PeerId self,
                          std::chrono::milliseconds timeout, const std::function<void()>& between);

}  // namespace chorus::readiness
