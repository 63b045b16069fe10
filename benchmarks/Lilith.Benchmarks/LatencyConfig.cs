using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using Perfolizer.Mathematics.OutlierDetection;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Lilith.Benchmarks;

/// <summary>
/// The job of a latency benchmark: every iteration is one operation, and every iteration counts (no outlier removal,
/// so the tail the percentile columns show is the tail a caller sees, for the anchor and Lilith alike). Columns: P50,
/// P95, P99 and Max of the per-operation times. No full garbage collection is forced between iterations: with one
/// operation per iteration, BenchmarkDotNet's default (a blocking full collection after every iteration) stalls every
/// thread of the process, the background consumer or subscriber under test among them, just before the next measured
/// operation, and put milliseconds into the tail that a caller never sees. Collections the operations cause still
/// happen, inside the measured times. A class using it runs without <c>--job</c>.
/// </summary>
public abstract class LatencyConfig : ManualConfig
{
    /// <summary>Sets the single-operation job and the percentile columns.</summary>
    /// <param name="id">The job's name in the report.</param>
    /// <param name="warmups">Operations run before measuring.</param>
    /// <param name="operations">Operations measured.</param>
    /// <param name="inProcess">Run in the host process (nothing to build per job).</param>
    protected LatencyConfig(string id, int warmups, int operations, bool inProcess)
    {
        Job job = Job.Default.WithStrategy(RunStrategy.Monitoring).WithInvocationCount(1).WithUnrollFactor(1).WithLaunchCount(1)
            .WithWarmupCount(warmups).WithIterationCount(operations).WithOutlierMode(OutlierMode.DontRemove).WithGcForce(false).WithId(id);
        AddJob(inProcess ? job.WithToolchain(InProcessEmitToolchain.Instance) : job);
        AddColumn(StatisticColumn.P50, StatisticColumn.P95, new PercentileColumn(99), StatisticColumn.Max);
    }

    /// <summary>A percentile of the per-operation times that the built-in columns do not offer (P99), in microseconds.</summary>
    private sealed class PercentileColumn(int percentile) : IColumn
    {
        public string Id => $"P{percentile}";

        public string ColumnName => $"P{percentile}";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Statistics;

        public int PriorityInCategory => 100;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Time;

        public string Legend => $"Percentile {percentile} of the single-operation iteration times";

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
            summary[benchmarkCase]?.ResultStatistics is { } statistics
                ? $"{statistics.Percentiles.Percentile(percentile) / 1000:N1} μs"
                : "NA";
    }
}
