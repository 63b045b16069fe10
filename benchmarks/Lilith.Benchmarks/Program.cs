using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// Run with build/bench.sh <filter>, e.g. build/bench.sh '*Ping*'.
BenchmarkSwitcher.FromAssembly(typeof(Lilith.Benchmarks.BenchmarkRedis).Assembly)
    .Run(args, DefaultConfig.Instance.WithOptions(ConfigOptions.JoinSummary));
