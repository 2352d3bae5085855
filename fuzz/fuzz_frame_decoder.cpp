// libFuzzer entry point for the frame decoder (see frame_decoder_target.h). Build with
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dcuda=disabled && ninja -C build-fuzz fuzz_frame_decoder
// and run, e.g.:  build-fuzz/fuzz/fuzz_frame_decoder fuzz/corpus -max_total_time=60
#include <cstddef>
#include <cstdint>

#include "fuzz/frame_decoder_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)chorus::fuzz::open_fuzz_input(data, size);
  return 0;
}
