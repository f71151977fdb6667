#include "compute/analytics/knn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "compute/analytics/distance_matrix.h"
#include "compute/analytics/waves.h"
#include "compute/common/parallel.h"

namespace impulse::analytics {

namespace {
#ifndef IMPULSE_KD_LEAF
#define IMPULSE_KD_LEAF 16
#endif
constexpr std::uint32_t kLeafSize = IMPULSE_KD_LEAF;
constexpr std::uint32_t kNoId = std::numeric_limits<std::uint32_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Sorted (ascending by (d2, id)) list of the best k candidates so far.
struct Best {
  std::size_t k = 0;
  std::size_t count = 0;
  std::vector<double> d2;
  std::vector<std::uint32_t> id;

  void Reset(std::size_t kk) {
    k = kk;
    count = 0;
    if (d2.size() < k) {
      d2.resize(k);
      id.resize(k);
    }
  }
  double worst_d2() const { return count < k ? kInf : d2[k - 1]; }
  std::uint32_t worst_id() const { return count < k ? kNoId : id[k - 1]; }
  // Whether a subtree with lower bound lb and smallest index min_id may
  // still contain a candidate that beats the current k-th.
  bool MayImprove(double lb, std::uint32_t min_id) const {
    if (count < k) return true;
    return lb < d2[k - 1] || (lb == d2[k - 1] && min_id < id[k - 1]);
  }
  void Offer(double dist2, std::uint32_t idx) {
    std::size_t pos;
    if (count < k) {
      pos = count++;
    } else {
      if (dist2 > d2[k - 1] || (dist2 == d2[k - 1] && idx > id[k - 1])) {
        return;
      }
      pos = k - 1;
    }
    while (pos > 0 && (d2[pos - 1] > dist2 ||
                       (d2[pos - 1] == dist2 && id[pos - 1] > idx))) {
      d2[pos] = d2[pos - 1];
      id[pos] = id[pos - 1];
      --pos;
    }
    d2[pos] = dist2;
    id[pos] = idx;
  }
};

thread_local Best tls_best;

template <int kDims>
inline double Dist2(const double* a, const double* b, std::size_t dims) {
  const std::size_t d = kDims > 0 ? kDims : dims;
  double sum = 0.0;
  for (std::size_t k = 0; k < d; ++k) {
    const double t = a[k] - b[k];
    sum += t * t;
  }
  return sum;
}

Status ValidateK(std::size_t k, std::size_t limit, const char* why) {
  if (k == 0) return Error::InvalidArgument("k", "must be at least 1");
  if (k > limit) {
    return Error::InvalidArgument("k", "k=" + std::to_string(k) + " exceeds " +
                                           why + " (" + std::to_string(limit) +
                                           ")");
  }
  return {};
}

}  // namespace

class KdTreeBuilder {
 public:
  KdTreeBuilder(KdTree& t, const double* src, std::size_t n, std::size_t dims)
      : t_(t), src_(src), n_(n), d_(dims) {}

  void Build() {
    t_.dims_ = d_;
    t_.pts_.assign(src_, src_ + n_ * d_);
    t_.ids_.resize(n_);
    for (std::size_t i = 0; i < n_; ++i) {
      t_.ids_[i] = static_cast<std::uint32_t>(i);
    }
    t_.nodes_.clear();
    t_.nodes_.reserve(2 * (n_ / kLeafSize + 1));
    t_.parent_.clear();
    t_.parent_.reserve(2 * (n_ / kLeafSize + 1));
    MakeShape(0, static_cast<std::uint32_t>(n_));
    // Root cell: tight bounding box of all points.
    std::vector<double> cell(2 * d_);
    for (std::size_t k = 0; k < d_; ++k) {
      cell[k] = kInf;
      cell[d_ + k] = -kInf;
    }
    for (std::size_t i = 0; i < n_; ++i) {
      for (std::size_t k = 0; k < d_; ++k) {
        cell[k] = std::min(cell[k], src_[i * d_ + k]);
        cell[d_ + k] = std::max(cell[d_ + k], src_[i * d_ + k]);
      }
    }
    switch (d_) {
      case 2:
        Split<2>(0, cell);
        break;
      case 3:
        Split<3>(0, cell);
        break;
      default:
        Split<0>(0, cell);
    }
    // Tight boxes and smallest ids, bottom-up.
    t_.box_.resize(t_.nodes_.size() * 2 * d_);
    Boxes(0);
  }

 private:
  // Tree shape depends only on sizes: median split, leaves <= kLeafSize.
  std::uint32_t MakeShape(std::uint32_t b, std::uint32_t e) {
    const auto id = static_cast<std::uint32_t>(t_.nodes_.size());
    t_.nodes_.push_back({b, e, 0, 0, 0});
    t_.parent_.push_back(0);
    if (e - b > kLeafSize) {
      const std::uint32_t m = b + (e - b) / 2;
      const std::uint32_t l = MakeShape(b, m);
      const std::uint32_t r = MakeShape(m, e);
      t_.parent_[l] = id;
      t_.parent_[r] = id;
      t_.nodes_[id].left = l;
      t_.nodes_[id].right = r;
    }
    return id;
  }

  // Quickselect over rows of pts_/ids_ in [b, e) by (coordinate dim, id), so
  // that position m holds the element of rank m - b and the range is
  // partitioned around it. Rows move physically, so every pass is
  // sequential in memory.
  template <int kDims>
  void Select(std::size_t b, std::size_t e, std::size_t m, std::size_t dim) {
    const std::size_t d = kDims > 0 ? kDims : d_;
    double* pts = t_.pts_.data();
    std::uint32_t* ids = t_.ids_.data();
    auto key = [&](std::size_t i) { return pts[i * d + dim]; };
    auto less = [&](double va, std::uint32_t ia, double vb, std::uint32_t ib) {
      return va < vb || (va == vb && ia < ib);
    };
    auto swap_rows = [&](std::size_t i, std::size_t j) {
      for (std::size_t k = 0; k < d; ++k)
        std::swap(pts[i * d + k], pts[j * d + k]);
      std::swap(ids[i], ids[j]);
    };
    while (e - b > 8) {
      // Median of three as pivot (a value present in the range).
      std::size_t a = b, c = b + (e - b) / 2, z = e - 1;
      if (less(key(c), ids[c], key(a), ids[a])) std::swap(a, c);
      if (less(key(z), ids[z], key(c), ids[c])) {
        c = z;
        if (less(key(c), ids[c], key(a), ids[a])) c = a;
      }
      const double pv = key(c);
      const std::uint32_t pi = ids[c];
      // Hoare partition: [b, j] <= pivot <= [j + 1, e).
      std::ptrdiff_t i = static_cast<std::ptrdiff_t>(b) - 1;
      std::ptrdiff_t j = static_cast<std::ptrdiff_t>(e);
      while (true) {
        do ++i;
        while (less(key(i), ids[i], pv, pi));
        do --j;
        while (less(pv, pi, key(j), ids[j]));
        if (i >= j) break;
        swap_rows(i, j);
      }
      if (m <= static_cast<std::size_t>(j)) {
        e = j + 1;
      } else {
        b = j + 1;
      }
    }
    // Insertion sort of the small remainder.
    for (std::size_t i = b + 1; i < e; ++i) {
      for (std::size_t j = i;
           j > b && less(key(j), ids[j], key(j - 1), ids[j - 1]); --j) {
        swap_rows(j, j - 1);
      }
    }
  }

  // Splits the node's cell on its widest dimension at the median.
  template <int kDims>
  void Split(std::uint32_t node, std::vector<double> cell) {
    const KdTree::Node nd = t_.nodes_[node];
    if (nd.left == 0) return;
    std::size_t dim = 0;
    double widest = -1.0;
    for (std::size_t k = 0; k < d_; ++k) {
      const double w = cell[d_ + k] - cell[k];
      if (w > widest) {
        widest = w;
        dim = k;
      }
    }
    const std::uint32_t m = t_.nodes_[nd.left].end;
    Select<kDims>(nd.begin, nd.end, m, dim);
    const double split = t_.pts_[std::size_t{m} * d_ + dim];
    std::vector<double> lcell = cell;
    std::vector<double> rcell = std::move(cell);
    lcell[d_ + dim] = split;
    rcell[dim] = split;
    if (nd.end - nd.begin > 32768) {
      parallel::Invoke([&] { Split<kDims>(nd.left, std::move(lcell)); },
                       [&] { Split<kDims>(nd.right, std::move(rcell)); });
    } else {
      Split<kDims>(nd.left, std::move(lcell));
      Split<kDims>(nd.right, std::move(rcell));
    }
  }

  void Boxes(std::uint32_t node) {
    KdTree::Node& nd = t_.nodes_[node];
    double* lo = t_.box_.data() + node * 2 * d_;
    double* hi = lo + d_;
    if (nd.left == 0) {
      std::uint32_t min_id = kNoId;
      for (std::size_t k = 0; k < d_; ++k) {
        lo[k] = kInf;
        hi[k] = -kInf;
      }
      for (std::uint32_t p = nd.begin; p < nd.end; ++p) {
        min_id = std::min(min_id, t_.ids_[p]);
        const double* x = t_.pts_.data() + std::size_t{p} * d_;
        for (std::size_t k = 0; k < d_; ++k) {
          lo[k] = std::min(lo[k], x[k]);
          hi[k] = std::max(hi[k], x[k]);
        }
      }
      nd.min_id = min_id;
      return;
    }
    const std::uint32_t l = nd.left;
    const std::uint32_t r = nd.right;
    if (nd.end - nd.begin > 65536) {
      parallel::Invoke([&] { Boxes(l); }, [&] { Boxes(r); });
    } else {
      Boxes(l);
      Boxes(r);
    }
    const double* llo = t_.box_.data() + l * 2 * d_;
    const double* rlo = t_.box_.data() + r * 2 * d_;
    for (std::size_t k = 0; k < d_; ++k) {
      lo[k] = std::min(llo[k], rlo[k]);
      hi[k] = std::max(llo[d_ + k], rlo[d_ + k]);
    }
    nd.min_id = std::min(t_.nodes_[l].min_id, t_.nodes_[r].min_id);
  }

  KdTree& t_;
  const double* src_;
  std::size_t n_;
  std::size_t d_;
};

Result<KdTree> KdTree::Build(std::span<const double> points, std::size_t dims) {
  if (Status s = ValidatePoints(points, dims); !s.ok()) return s.error();
  const std::size_t n = points.size() / dims;
  if (n > kNoId - 1) {
    return Error::InvalidArgument("points", "at most 2^32 - 2 points");
  }
  KdTree t;
  KdTreeBuilder(t, points.data(), n, dims).Build();
  return t;
}

template <int kDims>
void KdTree::QueryImpl(const double* q, std::size_t k, std::uint32_t* indices,
                       double* distances, std::uint32_t exclude,
                       std::uint32_t first_leaf) const {
  const std::size_t d = kDims > 0 ? kDims : dims_;
  Best& best = tls_best;
  best.Reset(k);
  auto box_lb = [&](std::uint32_t node) {
    const double* lo = box_.data() + std::size_t{node} * 2 * d;
    const double* hi = lo + d;
    double sum = 0.0;
    for (std::size_t j = 0; j < d; ++j) {
      const double t = std::max(std::max(lo[j] - q[j], q[j] - hi[j]), 0.0);
      sum += t * t;
    }
    return sum;
  };
  auto scan_leaf = [&](const Node& nd) {
    for (std::uint32_t i = nd.begin; i < nd.end; ++i) {
      const std::uint32_t id = ids_[i];
      if (id == exclude) continue;
      best.Offer(Dist2<kDims>(q, pts_.data() + std::size_t{i} * d, d), id);
    }
  };
  struct Pending {
    std::uint32_t node;
    double lb;
  };
  Pending stack[96];
  // Best-first descent of the subtree at `start` (pruned by the k-th best).
  auto descend = [&](std::uint32_t start, double start_lb) {
    int top = 0;
    stack[top++] = {start, start_lb};
    while (top > 0) {
      const Pending p = stack[--top];
      const Node& nd = nodes_[p.node];
      if (!best.MayImprove(p.lb, nd.min_id)) continue;
      if (nd.left == 0) {
        scan_leaf(nd);
        continue;
      }
      const double ll = box_lb(nd.left);
      const double lr = box_lb(nd.right);
      // Push the farther child first so the nearer one is explored first.
      if (ll <= lr) {
        stack[top++] = {nd.right, lr};
        stack[top++] = {nd.left, ll};
      } else {
        stack[top++] = {nd.left, ll};
        stack[top++] = {nd.right, lr};
      }
    }
  };
  if (first_leaf == kNoId) {
    descend(0, box_lb(0));
  } else {
    // Bottom-up from the query's own leaf: its points give a tight bound at
    // once, then each ancestor's other child is searched only if it may
    // still hold a better candidate.
    scan_leaf(nodes_[first_leaf]);
    for (std::uint32_t node = first_leaf; node != 0;) {
      const std::uint32_t up = parent_[node];
      const std::uint32_t sib =
          nodes_[up].left == node ? nodes_[up].right : nodes_[up].left;
      descend(sib, box_lb(sib));
      node = up;
    }
  }
  for (std::size_t j = 0; j < k; ++j) {
    indices[j] = best.id[j];
    distances[j] = std::sqrt(best.d2[j]);
  }
}

void KdTree::Query(const double* query, std::size_t k, std::uint32_t* indices,
                   double* distances,
                   std::optional<std::uint32_t> exclude) const {
  const std::uint32_t ex = exclude.value_or(kNoId);
  switch (dims_) {
    case 2:
      QueryImpl<2>(query, k, indices, distances, ex, kNoId);
      break;
    case 3:
      QueryImpl<3>(query, k, indices, distances, ex, kNoId);
      break;
    default:
      QueryImpl<0>(query, k, indices, distances, ex, kNoId);
  }
}

void KdTree::QueryTreePoint(std::size_t p, std::size_t k,
                            std::uint32_t* indices, double* distances,
                            bool include_self) const {
  // The leaf holding position p: follow ranges down from the root.
  std::uint32_t node = 0;
  while (nodes_[node].left != 0) {
    const std::uint32_t l = nodes_[node].left;
    node = p < nodes_[l].end ? l : nodes_[node].right;
  }
  const double* q = pts_.data() + p * dims_;
  const std::uint32_t ex = include_self ? kNoId : ids_[p];
  switch (dims_) {
    case 2:
      QueryImpl<2>(q, k, indices, distances, ex, node);
      break;
    case 3:
      QueryImpl<3>(q, k, indices, distances, ex, node);
      break;
    default:
      QueryImpl<0>(q, k, indices, distances, ex, node);
  }
}

namespace {

KnnResult MakeResult(std::size_t q, std::size_t k) {
  KnnResult r;
  r.num_queries = q;
  r.k = k;
  r.indices.resize(q * k);
  r.distances.resize(q * k);
  return r;
}

}  // namespace

Result<KnnResult> KNearestNeighbors(std::span<const double> points,
                                    std::size_t dims, const KnnOptions& options,
                                    const RunControl& control,
                                    const ProgressCallback& progress) {
  if (Status s = ValidatePoints(points, dims); !s.ok()) return s.error();
  const std::size_t n = points.size() / dims;
  if (Status s =
          options.include_self
              ? ValidateK(options.k, n, "the number of points N")
              : ValidateK(options.k, n - 1, "N - 1 (include_self is false)");
      !s.ok()) {
    return s.error();
  }
  Result<KdTree> tree = KdTree::Build(points, dims);
  if (!tree.ok()) return tree.error();
  const KdTree& t = tree.value();
  const std::size_t k = options.k;
  KnnResult r = MakeResult(n, k);
  // Queries in tree order: consecutive queries touch the same leaves.
  const bool done = internal::RunInWaves(
      n, 4096, 256, control, progress, [&](std::size_t b, std::size_t e) {
        for (std::size_t p = b; p < e; ++p) {
          const std::uint32_t id = t.original_index(p);
          t.QueryTreePoint(p, k, r.indices.data() + std::size_t{id} * k,
                           r.distances.data() + std::size_t{id} * k,
                           options.include_self);
        }
      });
  if (!done) return CancelledError();
  return r;
}

Result<KnnResult> KNearestNeighbors(std::span<const double> points,
                                    std::size_t dims,
                                    std::span<const double> queries,
                                    const KnnOptions& options,
                                    const RunControl& control,
                                    const ProgressCallback& progress) {
  if (Status s = ValidatePoints(points, dims); !s.ok()) return s.error();
  const std::size_t n = points.size() / dims;
  if (queries.size() % dims != 0) {
    return Error::InvalidArgument(
        "queries", "length " + std::to_string(queries.size()) +
                       " is not a multiple of dims=" + std::to_string(dims));
  }
  for (std::size_t i = 0; i < queries.size(); ++i) {
    if (!std::isfinite(queries[i])) {
      return Error::InvalidArgument(
          "queries", "query " + std::to_string(i / dims) + ", coordinate " +
                         std::to_string(i % dims) + " is not finite");
    }
  }
  if (Status s = ValidateK(options.k, n, "the number of points N"); !s.ok()) {
    return s.error();
  }
  Result<KdTree> tree = KdTree::Build(points, dims);
  if (!tree.ok()) return tree.error();
  const KdTree& t = tree.value();
  const std::size_t nq = queries.size() / dims;
  const std::size_t k = options.k;
  KnnResult r = MakeResult(nq, k);
  const bool done = internal::RunInWaves(
      nq, 4096, 256, control, progress, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
          t.Query(queries.data() + i * dims, k, r.indices.data() + i * k,
                  r.distances.data() + i * k);
        }
      });
  if (!done) return CancelledError();
  return r;
}

KnnResult KNearestNeighborsBruteForce(std::span<const double> points,
                                      std::size_t dims,
                                      std::span<const double> queries,
                                      std::size_t query_begin,
                                      std::size_t query_end,
                                      const KnnOptions& options) {
  const std::size_t n = points.size() / dims;
  const bool all = queries.empty();
  const double* qs = all ? points.data() : queries.data();
  const std::size_t k = options.k;
  KnnResult r = MakeResult(query_end - query_begin, k);
  std::vector<std::pair<double, std::uint32_t>> cand;
  cand.reserve(n);
  for (std::size_t qi = query_begin; qi < query_end; ++qi) {
    cand.clear();
    for (std::size_t j = 0; j < n; ++j) {
      if (all && !options.include_self && j == qi) continue;
      cand.emplace_back(
          Dist2<0>(qs + qi * dims, points.data() + j * dims, dims),
          static_cast<std::uint32_t>(j));
    }
    std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
    for (std::size_t j = 0; j < k; ++j) {
      r.indices[(qi - query_begin) * k + j] = cand[j].second;
      r.distances[(qi - query_begin) * k + j] = std::sqrt(cand[j].first);
    }
  }
  return r;
}

}  // namespace impulse::analytics
