#include <gtest/gtest.h>

#include "server/cluster/redis_connection.h"

namespace impulse::cluster {
namespace {

TEST(RedisUrlTest, HostAndPortComeFromTheUrl) {
  Result<RedisAddress> address =
      ParseRedisUrl("redis://10.0.0.7:6380", "cluster_redis");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(address.value().host, "10.0.0.7");
  EXPECT_EQ(address.value().port, 6380);
  Result<RedisAddress> default_port =
      ParseRedisUrl("redis://redis/", "cluster_redis");
  ASSERT_TRUE(default_port.ok());
  EXPECT_EQ(default_port.value().ToString(), "redis:6379");
}

TEST(RedisUrlTest, BadUrlsNameTheFlagAndTheExpectedForm) {
  for (const char* url :
       {"127.0.0.1:6379", "redis://", "redis://h:0", "redis://h:70000",
        "redis://h:port", "redis://user:pw@h:6379", "redis://h:6379/0"}) {
    Result<RedisAddress> address = ParseRedisUrl(url, "cluster_redis");
    ASSERT_FALSE(address.ok()) << url;
    EXPECT_EQ(address.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(address.error().field, "cluster_redis");
    EXPECT_NE(address.error().message.find("redis://HOST:PORT"),
              std::string::npos)
        << address.error().message;
  }
}

TEST(RedisUrlTest, AnUnreachableServerIsUnavailableAndCallsFailFast) {
  RedisHealth health("127.0.0.1:1");
  RedisConnection connection({"127.0.0.1", 1}, &health,
                             std::chrono::milliseconds(200));
  Result<RedisReply> first = connection.Command({"PING"});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(health.up());
  // Within the backoff the next call does not even try to connect.
  Result<RedisReply> second = connection.Command({"PING"});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("reconnecting"), std::string::npos);
}

}  // namespace
}  // namespace impulse::cluster
