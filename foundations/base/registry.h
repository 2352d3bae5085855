#pragma once
// Registry: one table of named records of one kind — strategies, models, optimizers, graphs,
// backends — each record added by the file that implements it, looked up by name. The
// commands, their --help, `chorus compare`'s default list and the tests list what is registered
// instead of repeating names.
//
// A Record is a struct with at least `std::string name`, `std::string description` and
// `int order` (where it is listed: ascending order, then name). Files register their records
// from a namespace-scope initializer:
//
//   const bool registered = strategy_registry().add({...});
//
// which runs before main() (the layers are linked whole, so no such file is dropped).
//
// Errors: add() of an empty or duplicate name is a programming error (InvariantError); get()
// of an unknown name is the user's (UserError "unknown strategy 'x' (choose one of: a, b)").
// Threading: records are added during static initialization, before any thread starts; after
// that a registry is only read, from any number of threads.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "foundations/base/error.h"

namespace chorus {

template <typename Record>
class Registry {
 public:
  // `kind` names one record in messages ("strategy", "model", ...).
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds `record`; returns true (for namespace-scope initializers).
  bool add(Record record) {
    CHORUS_CHECK(!record.name.empty(), "a registered " + kind_ + " needs a name");
    CHORUS_CHECK(find(record.name) == nullptr, "the " + kind_ + " '" + record.name + "' is registered twice");
    const auto at = std::find_if(records_.begin(), records_.end(), [&](const Record& r) {
      return r.order != record.order ? record.order < r.order : record.name < r.name;
    });
    records_.insert(at, std::move(record));
    return true;
  }

  // The record called `name`, or null.
  const Record* find(std::string_view name) const {
    for (const Record& r : records_)
      if (r.name == name) return &r;
    return nullptr;
  }

  // The record called `name`; UserError naming the valid ones when there is none.
  const Record& get(std::string_view name) const {
    if (const Record* r = find(name)) return *r;
    throw UserError("unknown " + kind_ + " '" + std::string(name) + "' (choose one of: " + joined_names() + ")");
  }

  // Every record, in listing order.
  const std::vector<Record>& records() const { return records_; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Record& r : records_) out.push_back(r.name);
    return out;
  }

  // "a, b, c": the names in listing order, for messages and help texts.
  std::string joined_names(std::string_view separator = ", ") const {
    std::string out;
    for (const Record& r : records_) {
      if (!out.empty()) out += separator;
      out += r.name;
    }
    return out;
  }

  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::vector<Record> records_;
};

}  // namespace chorus
