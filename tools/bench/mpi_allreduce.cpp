// The all-reduce through Open MPI's MPI_Allreduce (run by mpirun over the TCP BTL on loopback),
// for `chorus bench allreduce` to compare with: in-place sum of float buffers. Output: see
// bench_args.h, except that rank 0 alone prints, with the slowest rank's time per repetition.
// The C API only: the C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include "tools/bench/bench_args.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const bench::Args args = bench::parse_args(argc, argv);
  for (std::size_t s = 0; s < args.sizes.size(); ++s) {
    const std::size_t count = args.sizes[s] / sizeof(float);
    std::vector<float> data(count);
    bench::fill_known(data, rank);
    MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    const bool ok = bench::check_known(data, size);
    std::fill(data.begin(), data.end(), 0.0f);
    MPI_Barrier(MPI_COMM_WORLD);
    std::vector<double> times;
    for (std::uint64_t r = 0; r < args.reps[s] + 2; ++r) {
      const auto t0 = bench::Clock::now();
      MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      if (r >= 2) times.push_back(bench::seconds_since(t0));
    }
    // Rank 0 prints the slowest rank's time of each repetition (one line, never interleaved).
    std::vector<double> slowest(times.size());
    int ok_here = ok ? 1 : 0, ok_all = 0;
    MPI_Reduce(times.data(), slowest.data(), static_cast<int>(times.size()), MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&ok_here, &ok_all, 1, MPI_INT, MPI_LAND, 0, MPI_COMM_WORLD);
    if (rank == 0) bench::print_times("mpi", rank, args.sizes[s], slowest, ok_all != 0);
  }
  MPI_Finalize();
  return 0;
}
