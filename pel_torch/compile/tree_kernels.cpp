// Tree traversal on CPU: rows -> the leaf each tree sends them to.
//
// Only the traversal lives here. It returns integer leaf indices; gathering and summing leaf values
// stays in torch, so leaf gradients and the libraries' summation order are unchanged.
//
// Rows go in blocks: a block's inputs stay in L1 while every tree walks them, and each tree's
// nodes are reused by all rows of the block. Within a block, kRowsInFlight rows walk a tree side by
// side: their node loads are independent, so the CPU overlaps their cache misses.
//
// A complete tree is padded to the forest's depth with nodes that always go left. Each tree walks
// only its own levels (``tree_levels``) and then jumps to the leftmost leaf below the node it
// reached, which is where the padding would have led: the same leaf, without the padded levels.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

namespace {

constexpr int64_t kBlockRows = 64;
constexpr int64_t kRowsInFlight = 16;  // 1.35x over 8 on 2,000 LightGBM trees of depth <= 8 (min of 7 interleaved runs)

inline float float_from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

void check_input(const torch::Tensor& x) {
  TORCH_CHECK(x.device().is_cpu(), "tree kernels: input must be on the CPU");
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == torch::kFloat32 && x.is_contiguous(),
              "tree kernels: input must be a contiguous (batch, features) float32 tensor");
}

// What a traversal does with the leaf it reached: write its index (for gradients), or add its value.
struct WriteIndex {
  int64_t* out;
  int64_t n_trees;
  void operator()(int64_t row, int64_t tree, int64_t flat_leaf) const { out[row * n_trees + tree] = flat_leaf; }
};

// The libraries' own arithmetic: a float64 sum tree after tree (scikit-learn, LightGBM, CatBoost),
// or XGBoost's float32 running sum started at base_score.
struct AddValue {
  const double* leaf_values;
  double* sum64;
  float* sum32;
  void operator()(int64_t row, int64_t, int64_t flat_leaf) const {
    if (sum32) {
      sum32[row] += static_cast<float>(leaf_values[flat_leaf]);
    } else {
      sum64[row] += leaf_values[flat_leaf];
    }
  }
};

template <typename Sink>
void walk_perfect_trees(const torch::Tensor& x, const torch::Tensor& nodes, int64_t depth, const torch::Tensor& tree_levels,
                        const Sink& sink) {
  const int64_t n = x.size(0), n_features = x.size(1), n_trees = nodes.size(0), n_internal = nodes.size(1);
  const float* X = x.data_ptr<float>();
  const int64_t* tree_nodes = nodes.data_ptr<int64_t>();
  const int64_t* levels_of = tree_levels.data_ptr<int64_t>();
  const int64_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
  at::parallel_for(0, n_blocks, 1, [&](int64_t block_begin, int64_t block_end) {
    for (int64_t block = block_begin; block < block_end; ++block) {
      const int64_t first = block * kBlockRows, last = std::min(n, first + kBlockRows);
      for (int64_t tree = 0; tree < n_trees; ++tree) {
        const int64_t* node_table = tree_nodes + tree * n_internal;
        const int64_t levels = levels_of[tree];
        for (int64_t start = first; start < last; start += kRowsInFlight) {
          const float* row[kRowsInFlight];
          int64_t node[kRowsInFlight];
          for (int64_t r = 0; r < kRowsInFlight; ++r) {
            row[r] = X + std::min(start + r, last - 1) * n_features;  // past the end: repeat the last row
            node[r] = 0;
          }
          for (int64_t level = 0; level < levels; ++level) {
            for (int64_t r = 0; r < kRowsInFlight; ++r) {
              const int64_t packed = node_table[node[r]];
              const float threshold = float_from_bits(static_cast<uint32_t>(packed));
              node[r] = 2 * node[r] + 1 + (row[r][packed >> 32] > threshold);
            }
          }
          for (int64_t r = 0; r < kRowsInFlight && start + r < last; ++r) {
            sink(start + r, tree, (tree << depth) + ((node[r] + 1) << (depth - levels)) - 1 - n_internal);
          }
        }
      }
    }
  });
}

template <typename Sink>
void walk_oblivious_trees(const torch::Tensor& x, const torch::Tensor& features, const torch::Tensor& border_bits, const Sink& sink) {
  const int64_t n = x.size(0), n_features = x.size(1), n_trees = features.size(0), depth = features.size(1);
  const float* X = x.data_ptr<float>();
  const int64_t* F = features.data_ptr<int64_t>();
  const int32_t* B = border_bits.data_ptr<int32_t>();
  const int64_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
  at::parallel_for(0, n_blocks, 1, [&](int64_t block_begin, int64_t block_end) {
    // The block transposed to (features, rows): each level compares one contiguous column with one
    // border, a loop the compiler vectorises across rows.
    std::vector<float> columns(n_features * kBlockRows);
    int32_t leaf[kBlockRows];
    for (int64_t block = block_begin; block < block_end; ++block) {
      const int64_t first = block * kBlockRows, rows = std::min(n, first + kBlockRows) - first;
      for (int64_t i = 0; i < kBlockRows; ++i) {
        const float* row = X + (first + std::min(i, rows - 1)) * n_features;
        for (int64_t f = 0; f < n_features; ++f) columns[f * kBlockRows + i] = row[f];
      }
      for (int64_t tree = 0; tree < n_trees; ++tree) {
        for (int64_t i = 0; i < kBlockRows; ++i) leaf[i] = 0;
        for (int64_t level = 0; level < depth; ++level) {
          const float* column = columns.data() + F[tree * depth + level] * kBlockRows;
          const float border = float_from_bits(static_cast<uint32_t>(B[tree * depth + level]));
          for (int64_t i = 0; i < kBlockRows; ++i) leaf[i] |= static_cast<int32_t>(column[i] > border) << level;
        }
        for (int64_t i = 0; i < rows; ++i) sink(first + i, tree, (tree << depth) + leaf[i]);
      }
    }
  });
}

void check_perfect(const torch::Tensor& x, const torch::Tensor& nodes, int64_t depth, const torch::Tensor& tree_levels) {
  check_input(x);
  TORCH_CHECK(tree_levels.scalar_type() == torch::kInt64 && tree_levels.is_contiguous() && tree_levels.dim() == 1 &&
              tree_levels.size(0) == nodes.size(0), "perfect trees: tree_levels must be a contiguous (trees,) int64 tensor");
  TORCH_CHECK(tree_levels.numel() == 0 || (tree_levels.min().item<int64_t>() >= 0 && tree_levels.max().item<int64_t>() <= depth),
              "perfect trees: tree_levels must lie in 0 .. depth");
  TORCH_CHECK(nodes.scalar_type() == torch::kInt64 && nodes.is_contiguous() && nodes.dim() == 2,
              "perfect trees: nodes must be a contiguous (trees, internal nodes) int64 tensor");
  TORCH_CHECK(nodes.size(1) == (int64_t(1) << depth) - 1, "perfect trees: nodes do not match the depth");
}

void check_oblivious(const torch::Tensor& x, const torch::Tensor& features, const torch::Tensor& border_bits) {
  check_input(x);
  TORCH_CHECK(features.scalar_type() == torch::kInt64 && features.is_contiguous() && features.dim() == 2,
              "oblivious trees: features must be a contiguous (trees, depth) int64 tensor");
  TORCH_CHECK(border_bits.scalar_type() == torch::kInt32 && border_bits.is_contiguous() && border_bits.sizes() == features.sizes(),
              "oblivious trees: border_bits must be a contiguous int32 tensor shaped like features");
}

// Sum of the reached leaves' values per row: (batch,) float64, or the float32 running sum from
// ``start`` when ``float32_sum`` (returned as float64, exactly).
torch::Tensor leaf_sum(int64_t n, int64_t n_trees, const torch::Tensor& leaf_values, double start, bool float32_sum,
                       const std::function<void(const AddValue&)>& walk) {
  TORCH_CHECK(leaf_values.scalar_type() == torch::kFloat64 && leaf_values.is_contiguous() && leaf_values.size(0) == n_trees,
              "tree kernels: leaf_values must be a contiguous float64 (trees, leaves) tensor");
  if (float32_sum) {
    auto sum = torch::full({n}, static_cast<float>(start), torch::kFloat32);
    walk(AddValue{leaf_values.data_ptr<double>(), nullptr, sum.data_ptr<float>()});
    return sum.to(torch::kFloat64);
  }
  auto sum = torch::full({n}, start, torch::kFloat64);
  walk(AddValue{leaf_values.data_ptr<double>(), sum.data_ptr<double>(), nullptr});
  return sum;
}

}  // namespace

// Complete trees (PerfectTreeEnsemble): nodes (trees, 2^depth - 1) int64, packed as
// feature << 32 | float32 bits of the threshold; go right when x > threshold. tree_levels (trees,)
// int64: the levels below which every node of a tree always goes left.
// Returns (batch, trees) int64: tree * 2^depth + leaf, an index into leaf_values.reshape(-1).
torch::Tensor perfect_tree_leaves(const torch::Tensor& x, const torch::Tensor& nodes, int64_t depth, const torch::Tensor& tree_levels) {
  check_perfect(x, nodes, depth, tree_levels);
  auto out = torch::empty({x.size(0), nodes.size(0)}, torch::kInt64);
  walk_perfect_trees(x, nodes, depth, tree_levels, WriteIndex{out.data_ptr<int64_t>(), nodes.size(0)});
  return out;
}

// The same trees, summed: start + sum of leaf values per row, in the order the libraries sum.
torch::Tensor perfect_tree_sum(const torch::Tensor& x, const torch::Tensor& nodes, int64_t depth, const torch::Tensor& tree_levels,
                               const torch::Tensor& leaf_values, double start, bool float32_sum) {
  check_perfect(x, nodes, depth, tree_levels);
  return leaf_sum(x.size(0), nodes.size(0), leaf_values, start, float32_sum,
                  [&](const AddValue& sink) { walk_perfect_trees(x, nodes, depth, tree_levels, sink); });
}

// Oblivious trees (ObliviousEnsemble): features (trees, depth) int64, border_bits (trees, depth) int32
// float32 bit patterns; level l contributes bit (x > border) << l. Returns (batch, trees) int64:
// tree * 2^depth + leaf.
torch::Tensor oblivious_tree_leaves(const torch::Tensor& x, const torch::Tensor& features, const torch::Tensor& border_bits) {
  check_oblivious(x, features, border_bits);
  auto out = torch::empty({x.size(0), features.size(0)}, torch::kInt64);
  walk_oblivious_trees(x, features, border_bits, WriteIndex{out.data_ptr<int64_t>(), features.size(0)});
  return out;
}

torch::Tensor oblivious_tree_sum(const torch::Tensor& x, const torch::Tensor& features, const torch::Tensor& border_bits,
                                 const torch::Tensor& leaf_values) {
  check_oblivious(x, features, border_bits);
  return leaf_sum(x.size(0), features.size(0), leaf_values, 0.0, false,
                  [&](const AddValue& sink) { walk_oblivious_trees(x, features, border_bits, sink); });
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("perfect_tree_leaves", &perfect_tree_leaves, "leaf index per (row, tree) of complete trees");
  m.def("perfect_tree_sum", &perfect_tree_sum, "sum of reached leaf values per row, complete trees");
  m.def("oblivious_tree_leaves", &oblivious_tree_leaves, "leaf index per (row, tree) of oblivious trees");
  m.def("oblivious_tree_sum", &oblivious_tree_sum, "sum of reached leaf values per row, oblivious trees");
}
