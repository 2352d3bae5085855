// The main() of every test executable. A test case that cannot run here (for example, a CUDA
// test without a GPU) calls chorus_test::skip(), which exits 77 so meson reports it skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  return context.run();
}
