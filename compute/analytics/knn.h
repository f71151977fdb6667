// k nearest neighbours (book ch5) without materialising the N x N matrix: a
// KD-tree (median splits on the widest dimension, small leaf buckets, points
// stored in tree order) answers each query by best-first descent with
// bounding-box pruning. Works for any dimension; tuned for d = 2 and 3.
//
// Ordering: neighbours are sorted by (squared distance, original index), so
// ties are broken by the lower point index; squared distances are summed over
// dimensions in order, exactly like kernels::DistanceND, and the reported
// distance is sqrt of that sum (bit-identical to DistanceND).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "compute/analytics/progress.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"

namespace impulse::analytics {

struct KnnOptions {
  std::size_t k = 10;
  // All-points mode only: whether a point is its own neighbour (at distance
  // 0, index i). With include_self the limit is k <= N, without it k <= N - 1
  // (other points at the same coordinates are always candidates). Query mode
  // (separate query points) always allows k <= N.
  bool include_self = true;
};

struct KnnResult {
  std::size_t num_queries = 0;
  std::size_t k = 0;
  // num_queries x k, row-major, nearest first.
  std::vector<std::uint32_t> indices;
  std::vector<double> distances;

  std::span<const std::uint32_t> indices_of(std::size_t q) const {
    return {indices.data() + q * k, k};
  }
  std::span<const double> distances_of(std::size_t q) const {
    return {distances.data() + q * k, k};
  }
};

// Immutable KD-tree over a copy of the points; safe to query concurrently.
class KdTree {
 public:
  // Validates like ValidatePoints (fields "points", "dims"); at most
  // 2^32 - 2 points. Built in parallel in the caller's TBB arena.
  static Result<KdTree> Build(std::span<const double> points, std::size_t dims);

  std::size_t size() const { return ids_.size(); }
  std::size_t dims() const { return dims_; }

  // Points in tree order (neighbouring positions are spatially close):
  // position p holds original point original_index(p). Iterating queries in
  // this order is cache-friendly.
  const double* point_in_tree_order(std::size_t p) const {
    return pts_.data() + p * dims_;
  }
  std::uint32_t original_index(std::size_t p) const { return ids_[p]; }

  // Like Query for the indexed point at tree position p (all-points mode):
  // its own leaf is scanned first, which tightens the bound early. Without
  // include_self the point itself is excluded.
  void QueryTreePoint(std::size_t p, std::size_t k, std::uint32_t* indices,
                      double* distances, bool include_self) const;

  // The k nearest points to `query` (dims coordinates), nearest first, into
  // indices[0..k) and distances[0..k). `exclude` is a point index that is
  // never returned (used for include_self = false). Requires k >= 1 and
  // k <= size() (minus one when exclude is set); not checked here.
  void Query(const double* query, std::size_t k, std::uint32_t* indices,
             double* distances,
             std::optional<std::uint32_t> exclude = std::nullopt) const;

 private:
  friend class KdTreeBuilder;
  struct Node {
    std::uint32_t begin = 0;  // range in tree order
    std::uint32_t end = 0;
    std::uint32_t left = 0;  // child node ids; 0 = leaf (the root is 0)
    std::uint32_t right = 0;
    std::uint32_t min_id = 0;  // smallest original index in the subtree
  };
  template <int kDims>
  void QueryImpl(const double* query, std::size_t k, std::uint32_t* indices,
                 double* distances, std::uint32_t exclude,
                 std::uint32_t first_leaf) const;

  std::size_t dims_ = 0;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> parent_;  // parent node id (root: 0)
  std::vector<double> box_;            // per node: lo[dims], hi[dims]
  std::vector<double> pts_;            // points in tree order, row-major
  std::vector<std::uint32_t> ids_;     // original index of each tree position
};

// k nearest neighbours of every point. progress(points_done, N) between
// waves; cancel -> kCancelled. Errors: bad points, k == 0 or k too large
// (field "k").
Result<KnnResult> KNearestNeighbors(std::span<const double> points,
                                    std::size_t dims, const KnnOptions& options,
                                    const RunControl& control = {},
                                    const ProgressCallback& progress = {});

// k nearest points of `points` to each of `queries` (row-major, same dims;
// field "queries" when malformed). progress(queries_done, num_queries).
Result<KnnResult> KNearestNeighbors(std::span<const double> points,
                                    std::size_t dims,
                                    std::span<const double> queries,
                                    const KnnOptions& options,
                                    const RunControl& control = {},
                                    const ProgressCallback& progress = {});

// Brute force, single thread (benchmark baseline): for each query i in
// [query_begin, query_end) of `queries` (or of `points` when queries is
// empty, all-points mode honouring include_self), scans all N points. Same
// ordering rules; no validation. Output rows are query i - query_begin.
KnnResult KNearestNeighborsBruteForce(std::span<const double> points,
                                      std::size_t dims,
                                      std::span<const double> queries,
                                      std::size_t query_begin,
                                      std::size_t query_end,
                                      const KnnOptions& options);

}  // namespace impulse::analytics
