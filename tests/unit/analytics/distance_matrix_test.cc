#include "compute/analytics/distance_matrix.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "compute/kernels/distance.h"

namespace impulse::analytics {
namespace {

std::vector<double> RandomPoints(std::size_t n, std::size_t dims,
                                 std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-10.0, 10.0);
  std::vector<double> p(n * dims);
  for (double& v : p) v = u(rng);
  return p;
}

// Reference: the shared kernel formula, pair by pair.
std::vector<double> Reference(const std::vector<double>& p, std::size_t dims) {
  const std::size_t n = p.size() / dims;
  std::vector<double> out(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      out[i * n + j] =
          kernels::DistanceND(p.data() + i * dims, p.data() + j * dims, dims);
    }
  }
  return out;
}

void ExpectClose(const std::vector<double>& want, std::span<const double> got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(want[i], got[i], 1e-12 * (1.0 + want[i])) << "at " << i;
  }
}

TEST(DistanceMatrixTest, MatchesReferenceForManyDimensions) {
  for (std::size_t dims : {1, 2, 3, 5, 17}) {
    const auto p = RandomPoints(37, dims, dims);
    std::vector<double> out(37 * 37);
    ASSERT_TRUE(ComputeDistanceRows(p, dims, 0, 37, out).ok());
    ExpectClose(Reference(p, dims), out);
  }
}

TEST(DistanceMatrixTest, TwoDimensionalMatchesDistance2D) {
  const auto p = RandomPoints(600, 2, 7);  // > 512: several column tiles
  std::vector<double> out(600 * 600);
  ASSERT_TRUE(ComputeDistanceRows(p, 2, 0, 600, out).ok());
  for (std::size_t i = 0; i < 600; i += 7) {
    for (std::size_t j = 0; j < 600; ++j) {
      ASSERT_NEAR(
          out[i * 600 + j],
          kernels::Distance2D(p[2 * i], p[2 * i + 1], p[2 * j], p[2 * j + 1]),
          1e-12);
    }
  }
}

TEST(DistanceMatrixTest, RowBlockEqualsSliceOfFullMatrix) {
  const auto p = RandomPoints(1300, 3, 11);  // large enough to run parallel
  const auto want = Reference(p, 3);
  std::vector<double> block((700 - 123) * 1300);
  ASSERT_TRUE(ComputeDistanceRows(p, 3, 123, 700, block).ok());
  ExpectClose(
      std::vector<double>(want.begin() + 123 * 1300, want.begin() + 700 * 1300),
      block);
  std::vector<double> empty;
  EXPECT_TRUE(ComputeDistanceRows(p, 3, 5, 5, empty).ok());
}

TEST(DistanceMatrixTest, SymmetricZeroDiagonalAndDuplicates) {
  std::vector<double> p = {1, 2, 1, 2, 4, 6, 1, 2};  // 0, 1, 3 coincide
  auto m = ComputeDistanceMatrix(p, 2);
  ASSERT_TRUE(m.ok());
  const DistanceMatrix& d = m.value();
  ASSERT_EQ(d.n(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(d.at(i, i), 0.0);
    for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(d.at(i, j), d.at(j, i));
  }
  EXPECT_EQ(d.at(0, 1), 0.0);
  EXPECT_EQ(d.at(0, 3), 0.0);
  EXPECT_DOUBLE_EQ(d.at(0, 2), 5.0);
  EXPECT_EQ(d.row(2).size(), 4u);
}

TEST(DistanceMatrixTest, WholeMatrixMatchesScalarBaselineWithProgress) {
  const auto p = RandomPoints(2000, 2, 3);
  std::vector<std::uint64_t> seen;
  RunControl control;
  control.chunk_seconds = 0.0005;  // many waves
  auto m = ComputeDistanceMatrix(p, 2, control,
                                 [&](std::uint64_t done, std::uint64_t total) {
                                   EXPECT_EQ(total, 2000u);
                                   seen.push_back(done);
                                 });
  ASSERT_TRUE(m.ok());
  std::vector<double> base(2000 * 2000);
  ComputeDistanceRowsScalar(p.data(), 2000, 2, 0, 2000, base.data());
  ExpectClose(base, m.value().values());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 2000u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST(DistanceMatrixTest, StreamDeliversAllRowBlocksInOrder) {
  const auto p = RandomPoints(250, 4, 5);
  const auto want = Reference(p, 4);
  std::size_t next = 0;
  std::vector<double> got;
  Status s = StreamDistanceMatrix(
      p, 4, 64, RunControl{},
      [&](std::size_t r0, std::size_t r1, std::span<const double> rows) {
        EXPECT_EQ(r0, next);
        EXPECT_LE(r1 - r0, 64u);
        EXPECT_EQ(rows.size(), (r1 - r0) * 250);
        got.insert(got.end(), rows.begin(), rows.end());
        next = r1;
        return Status{};
      });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(next, 250u);
  ExpectClose(want, got);
}

TEST(DistanceMatrixTest, StreamStopsOnCallbackError) {
  const auto p = RandomPoints(100, 2, 5);
  int calls = 0;
  Status s = StreamDistanceMatrix(
      p, 2, 10, RunControl{},
      [&](std::size_t, std::size_t, std::span<const double>) -> Status {
        return ++calls == 3 ? Status(Error{ErrorCode::kUnavailable, "gone", ""})
                            : Status{};
      });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(calls, 3);
}

TEST(DistanceMatrixTest, Cancellation) {
  const auto p = RandomPoints(3000, 2, 9);
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  auto m = ComputeDistanceMatrix(p, 2, control);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kCancelled);

  // Cancelled from the progress callback, after the first wave.
  cancel = false;
  control.chunk_seconds = 0.0001;
  int calls = 0;
  m = ComputeDistanceMatrix(p, 2, control, [&](std::uint64_t, std::uint64_t) {
    ++calls;
    cancel = true;
  });
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(calls, 1);

  cancel = true;
  Status s = StreamDistanceMatrix(
      p, 2, 0, control, [](std::size_t, std::size_t, std::span<const double>) {
        return Status{};
      });
  EXPECT_EQ(s.error().code, ErrorCode::kCancelled);
}

TEST(DistanceMatrixTest, InvalidInputNamesTheField) {
  std::vector<double> out(100);
  std::vector<double> none;
  Status s = ComputeDistanceRows(none, 2, 0, 0, out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().field, "points");

  std::vector<double> p = {1, 2, 3};
  s = ComputeDistanceRows(p, 2, 0, 1, out);
  EXPECT_EQ(s.error().field, "points");
  s = ComputeDistanceRows(p, 0, 0, 1, out);
  EXPECT_EQ(s.error().field, "dims");

  std::vector<double> q = {1, 2, 3, NAN};
  s = ComputeDistanceRows(q, 2, 0, 1, out);
  EXPECT_EQ(s.error().field, "points");
  EXPECT_NE(s.error().message.find("point 1"), std::string::npos);

  std::vector<double> r = {1, 2, 3, 4};
  s = ComputeDistanceRows(r, 2, 0, 3, out);
  EXPECT_EQ(s.error().field, "row_end");
  s = ComputeDistanceRows(r, 2, 3, 3, out);
  EXPECT_EQ(s.error().field, "row_begin");
  std::vector<double> small(3);
  s = ComputeDistanceRows(r, 2, 0, 2, small);
  EXPECT_EQ(s.error().field, "out");

  auto m = ComputeDistanceMatrix(none, 3);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().field, "points");
}

}  // namespace
}  // namespace impulse::analytics
