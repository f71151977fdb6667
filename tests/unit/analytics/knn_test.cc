#include "compute/analytics/knn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "compute/kernels/distance.h"

namespace impulse::analytics {
namespace {

std::vector<double> RandomPoints(std::size_t n, std::size_t dims,
                                 std::uint64_t seed, bool lattice = false) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> p(n * dims);
  for (double& v : p) v = lattice ? std::floor(u(rng) * 6) : u(rng);
  return p;
}

// Reference: brute force, (squared distance, index) order.
struct Ref {
  std::vector<std::uint32_t> idx;
  std::vector<double> dist;
};
Ref Reference(const std::vector<double>& pts, std::size_t dims, const double* q,
              std::size_t k, long exclude) {
  const std::size_t n = pts.size() / dims;
  std::vector<std::pair<double, std::uint32_t>> all;
  for (std::size_t j = 0; j < n; ++j) {
    if (static_cast<long>(j) == exclude) continue;
    double s = 0;
    for (std::size_t d = 0; d < dims; ++d) {
      const double t = q[d] - pts[j * dims + d];
      s += t * t;
    }
    all.emplace_back(s, static_cast<std::uint32_t>(j));
  }
  std::sort(all.begin(), all.end());
  Ref r;
  for (std::size_t i = 0; i < k; ++i) {
    r.idx.push_back(all[i].second);
    r.dist.push_back(std::sqrt(all[i].first));
  }
  return r;
}

void ExpectMatches(const KnnResult& got, const std::vector<double>& pts,
                   std::size_t dims, const std::vector<double>* queries,
                   std::size_t k, bool include_self) {
  const std::size_t nq = queries ? queries->size() / dims : pts.size() / dims;
  ASSERT_EQ(got.num_queries, nq);
  ASSERT_EQ(got.k, k);
  for (std::size_t q = 0; q < nq; ++q) {
    const double* qp =
        queries ? queries->data() + q * dims : pts.data() + q * dims;
    const Ref want =
        Reference(pts, dims, qp, k, queries || include_self ? -1 : long(q));
    for (std::size_t j = 0; j < k; ++j) {
      ASSERT_EQ(got.indices_of(q)[j], want.idx[j])
          << "query " << q << " #" << j;
      ASSERT_DOUBLE_EQ(got.distances_of(q)[j], want.dist[j]);
    }
  }
}

TEST(KnnTest, AllPointsMatchBruteForce) {
  for (std::size_t dims : {1, 2, 3, 7}) {
    const auto pts = RandomPoints(700, dims, dims);
    for (std::size_t k : {1, 5, 10}) {
      for (bool self : {true, false}) {
        auto r = KNearestNeighbors(pts, dims, KnnOptions{k, self});
        ASSERT_TRUE(r.ok()) << r.error().ToString();
        ExpectMatches(r.value(), pts, dims, nullptr, k, self);
      }
    }
  }
}

TEST(KnnTest, SeparateQueries) {
  const auto pts = RandomPoints(500, 2, 1);
  auto queries = RandomPoints(120, 2, 2);
  queries[0] = pts[0];  // a query exactly on a point
  queries[1] = pts[1];
  auto r = KNearestNeighbors(pts, 2, queries, KnnOptions{.k = 7});
  ASSERT_TRUE(r.ok());
  ExpectMatches(r.value(), pts, 2, &queries, 7, true);
}

TEST(KnnTest, TiesBrokenByLowerIndexOnLattice) {
  // Integer coordinates in [0, 6): many equal distances and duplicates.
  for (std::size_t dims : {2, 3}) {
    const auto pts = RandomPoints(900, dims, 5, /*lattice=*/true);
    auto r = KNearestNeighbors(pts, dims, KnnOptions{.k = 12});
    ASSERT_TRUE(r.ok());
    ExpectMatches(r.value(), pts, dims, nullptr, 12, true);
    r = KNearestNeighbors(pts, dims, KnnOptions{12, false});
    ASSERT_TRUE(r.ok());
    ExpectMatches(r.value(), pts, dims, nullptr, 12, false);
  }
}

TEST(KnnTest, AllIdenticalPoints) {
  std::vector<double> pts(2 * 300, 0.25);
  auto r = KNearestNeighbors(pts, 2, KnnOptions{.k = 4});
  ASSERT_TRUE(r.ok());
  for (std::size_t q = 0; q < 300; ++q) {
    EXPECT_EQ(std::vector<std::uint32_t>(r->indices_of(q).begin(),
                                         r->indices_of(q).end()),
              (std::vector<std::uint32_t>{0, 1, 2, 3}));
    EXPECT_EQ(r->distances_of(q)[3], 0.0);
  }
  r = KNearestNeighbors(pts, 2, KnnOptions{2, false});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->indices_of(0)[0], 1u);
  EXPECT_EQ(r->indices_of(0)[1], 2u);
  EXPECT_EQ(r->indices_of(5)[0], 0u);
  EXPECT_EQ(r->indices_of(5)[1], 1u);
}

TEST(KnnTest, KEqualsN) {
  const auto pts = RandomPoints(40, 2, 8);
  auto r = KNearestNeighbors(pts, 2, KnnOptions{.k = 40});
  ASSERT_TRUE(r.ok());
  ExpectMatches(r.value(), pts, 2, nullptr, 40, true);
  r = KNearestNeighbors(pts, 2, KnnOptions{39, false});
  ASSERT_TRUE(r.ok());
  ExpectMatches(r.value(), pts, 2, nullptr, 39, false);
  std::vector<double> one = {3.0, 4.0};
  r = KNearestNeighbors(one, 2, KnnOptions{.k = 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->indices[0], 0u);
  EXPECT_EQ(r->distances[0], 0.0);
}

TEST(KnnTest, InvalidK) {
  const auto pts = RandomPoints(10, 2, 8);
  for (const KnnOptions& o :
       {KnnOptions{11, true}, KnnOptions{0, true}, KnnOptions{10, false}}) {
    auto r = KNearestNeighbors(pts, 2, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().field, "k");
  }
  const auto queries = RandomPoints(3, 2, 9);
  auto r = KNearestNeighbors(pts, 2, queries, KnnOptions{.k = 11});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "k");
}

TEST(KnnTest, EmptyAndMalformedInput) {
  std::vector<double> none;
  auto r = KNearestNeighbors(none, 2, KnnOptions{.k = 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().field, "points");
  const auto pts = RandomPoints(10, 2, 8);
  std::vector<double> bad = {1, 2, 3};
  r = KNearestNeighbors(pts, 2, bad, KnnOptions{.k = 1});
  EXPECT_EQ(r.error().field, "queries");
  std::vector<double> inf = {1, INFINITY};
  r = KNearestNeighbors(pts, 2, inf, KnnOptions{.k = 1});
  EXPECT_EQ(r.error().field, "queries");
  auto t = KdTree::Build(none, 3);
  EXPECT_FALSE(t.ok());
}

TEST(KnnTest, LargerSetAgainstBruteForceBaseline) {
  const std::size_t n = 60000;
  const auto pts = RandomPoints(n, 2, 21);
  auto r = KNearestNeighbors(pts, 2, KnnOptions{.k = 10});
  ASSERT_TRUE(r.ok());
  const KnnResult base =
      KNearestNeighborsBruteForce(pts, 2, {}, 1000, 1200, KnnOptions{.k = 10});
  for (std::size_t q = 1000; q < 1200; ++q) {
    for (std::size_t j = 0; j < 10; ++j) {
      ASSERT_EQ(r->indices_of(q)[j], base.indices_of(q - 1000)[j]);
      ASSERT_EQ(r->distances_of(q)[j], base.distances_of(q - 1000)[j]);
    }
  }
}

TEST(KnnTest, KdTreeQueryAndDistancesMatchKernel) {
  const auto pts = RandomPoints(333, 3, 4);
  auto t = KdTree::Build(pts, 3);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 333u);
  const double q[3] = {0.5, 0.5, 0.5};
  std::uint32_t idx[5];
  double dist[5];
  t->Query(q, 5, idx, dist);
  const Ref want = Reference(pts, 3, q, 5, -1);
  for (int j = 0; j < 5; ++j) {
    EXPECT_EQ(idx[j], want.idx[j]);
    EXPECT_EQ(dist[j], kernels::DistanceND(q, pts.data() + idx[j] * 3, 3));
  }
  t->Query(pts.data(), 1, idx, dist, 0u);  // excluding itself
  EXPECT_NE(idx[0], 0u);
}

TEST(KnnTest, ProgressAndCancellation) {
  const auto pts = RandomPoints(50000, 2, 3);
  std::uint64_t last = 0;
  RunControl control;
  control.chunk_seconds = 0.001;
  auto r = KNearestNeighbors(pts, 2, KnnOptions{.k = 3}, control,
                             [&](std::uint64_t done, std::uint64_t total) {
                               EXPECT_EQ(total, 50000u);
                               EXPECT_GE(done, last);
                               last = done;
                             });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(last, 50000u);

  std::atomic<bool> cancel{true};
  control.cancel = &cancel;
  r = KNearestNeighbors(pts, 2, KnnOptions{.k = 3}, control);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  cancel = false;
  r = KNearestNeighbors(pts, 2, pts, KnnOptions{.k = 3}, control,
                        [&](std::uint64_t, std::uint64_t) { cancel = true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
}

}  // namespace
}  // namespace impulse::analytics
