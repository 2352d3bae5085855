// The torus: the hash order laid out row by row on a 2-D grid with wrap-around.
#include <cmath>

#include "topology/graph_kinds.h"
#include "topology/graph_registry.h"
#include "topology/hash_order.h"

namespace chorus::topology_detail {
namespace {

struct GridShape {
  std::size_t rows = 0;
  std::size_t cols = 0;  // the last row may be shorter when rows * cols > n
};

std::size_t floor_sqrt(std::size_t n) {
  std::size_t r = static_cast<std::size_t>(std::sqrt(static_cast<double>(n)));
  while (r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

GridShape grid_shape(std::size_t n) {
  if (n == 0) return {};
  const std::size_t root = floor_sqrt(n);
  std::size_t rows = root;
  while (n % rows != 0) --rows;
  if (n / rows <= 2 * rows) return {rows, n / rows};
  const std::size_t cols = root * root == n ? root : root + 1;
  return {(n + cols - 1) / cols, cols};
}

class TorusGraph final : public Graph {
 public:
  std::string name() const override { return "torus"; }
  bool round_dependent() const override { return false; }

  Adjacency round_edges(const View& view, std::uint64_t) const override {
    const std::size_t n = view.size();
    const std::vector<std::size_t> order = hash_order(view);
    const GridShape shape = grid_shape(n);
    Adjacency edges(n);
    for (std::size_t r = 0; r < shape.rows; ++r) {
      std::vector<std::size_t> row;
      for (std::size_t c = 0; c < shape.cols && r * shape.cols + c < n; ++c)
        row.push_back(order[r * shape.cols + c]);
      add_circle(edges, row);
    }
    for (std::size_t c = 0; c < shape.cols; ++c) {
      std::vector<std::size_t> column;
      for (std::size_t r = 0; r < shape.rows && r * shape.cols + c < n; ++r)
        column.push_back(order[r * shape.cols + c]);
      add_circle(edges, column);
    }
    normalize(edges);
    return edges;
  }

 private:
  static void add_circle(Adjacency& edges, const std::vector<std::size_t>& circle) {
    const Adjacency cycle = circle_edges(circle, edges.size());
    for (std::size_t i = 0; i < edges.size(); ++i)
      edges[i].insert(edges[i].end(), cycle[i].begin(), cycle[i].end());
  }
};

const bool registered = graph_registry().add(
    {"torus", "a 2-D grid on the hash order with wrap-around", 50,
     [](const GraphOptions&) -> std::unique_ptr<Graph> { return std::make_unique<TorusGraph>(); }});

}  // namespace

}  // namespace chorus::topology_detail
