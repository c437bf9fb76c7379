// Deletable: what Worker::deferDelete can free after the current batch of
// completions: anything with a virtual destructor that owns itself.
#pragma once

namespace ringlb {

class Deletable {
 public:
  virtual ~Deletable() = default;
};

}  // namespace ringlb
