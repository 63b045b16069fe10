using System.Net.Sockets;
using Lilith.DistributedLock.Internal;
using Pipelines.Sockets.Unofficial;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Tests;

/// <summary>
/// What the Redis backend counts as "Redis unavailable" (retried until the caller's timeout, and a renewal that
/// keeps trying until the lease ends) rather than as a failure of the call.
/// </summary>
public sealed class RedisErrorClassificationTests(RedisFixture redis)
{
    [Fact]
    public async Task A_connection_reset_that_reaches_the_caller_as_a_socket_error_counts_as_Redis_unavailable()
    {
        await using RedisLockBackend backend = RedisLockBackend.On(await redis.ConnectionAsync(), new LockKeys(RedisFixture.NewPrefix()));

        // A randomized fault run saw StackExchange.Redis hand the acquire's EVAL the pipe's own exception after a reset,
        // not a RedisConnectionException; the acquire then failed at once although its timeout had 10 s left.
        var reset = new SocketException((int)SocketError.ConnectionReset);
        Assert.True(backend.IsUnavailable(new ConnectionResetException("Connection reset by peer", reset)));
        Assert.True(backend.IsUnavailable(reset));
        Assert.True(backend.IsUnavailable(new IOException("Unable to read data from the transport connection")));
        Assert.True(backend.IsUnavailable(new RedisConnectionException(ConnectionFailureType.SocketFailure, "SocketFailure on EVAL")));

        Assert.False(backend.IsUnavailable(new InvalidOperationException("a defect, not the network")));
        Assert.False(backend.IsUnavailable(new RedisServerException("ERR Error running script")));
    }
}
