using Lilith.DomainEvents.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Lilith.DomainEvents.Tests;

public sealed class CoarseClockTests
{
    /// <summary>The coarse clock's step (kernel tick, at most 4 ms) plus scheduling slack between the reads.</summary>
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(20);

    /// <summary>One step of <see cref="Environment.TickCount64"/> (coarser than a millisecond on some systems).</summary>
    private static readonly TimeSpan TickStep = TimeSpan.FromMilliseconds(16);

    [Fact]
    public async Task The_coarse_clock_stays_within_a_few_milliseconds_of_the_system_clock_across_refreshes()
    {
        DateTimeOffset first = CoarseClock.System.UtcNow();
        DateTimeOffset previous = first;
        int samples = 0;
        // Longer than one refresh period, so readings before and after a refresh are compared.
        while (TimeProvider.System.GetUtcNow() - first < TimeSpan.FromMilliseconds(CoarseClock.RefreshAfterMilliseconds * 1.5))
        {
            DateTimeOffset before = TimeProvider.System.GetUtcNow();
            DateTimeOffset coarse = CoarseClock.System.UtcNow();
            DateTimeOffset after = TimeProvider.System.GetUtcNow();
            Assert.InRange(coarse, before - Tolerance, after + Tolerance);
            Assert.Equal(TimeSpan.Zero, coarse.Offset);
            Assert.True(coarse >= previous - Tolerance, $"time went back from {previous:O} to {coarse:O}");
            previous = coarse;
            samples++;
            await Task.Delay(7, TestContext.Current.CancellationToken);
        }

        Assert.True(samples > 50, $"only {samples} samples");
    }

    [Fact]
    public async Task A_step_of_the_system_clock_shows_after_at_most_a_refresh_period()
    {
        var start = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        var system = new FakeTimeProvider(start);
        // The coarse clock runs on the machine's monotonic tick between readings: bounded by the real time that passed
        // (a loaded machine may take any time between two lines) plus one step of that tick.
        var real = System.Diagnostics.Stopwatch.StartNew();
        var clock = new CoarseClock(system);
        Assert.InRange(clock.UtcNow(), start, start + real.Elapsed + TickStep);

        // The clock is set an hour ahead (an NTP step, say): until the next reading the coarse clock runs on from the old one.
        system.Advance(TimeSpan.FromHours(1));
        Assert.InRange(clock.UtcNow(), start, start + real.Elapsed + TickStep);

        await Task.Delay(TimeSpan.FromMilliseconds(CoarseClock.RefreshAfterMilliseconds + 100), TestContext.Current.CancellationToken);
        Assert.InRange(clock.UtcNow(), start + TimeSpan.FromHours(1), start + TimeSpan.FromHours(1) + real.Elapsed + TickStep);
    }

    [Fact]
    public async Task An_in_process_envelope_carries_the_current_time_with_the_system_clock_and_the_exact_time_with_another()
    {
        DateTimeOffset before = TimeProvider.System.GetUtcNow();
        CloudEvent system = await DispatchOnceAsync(null);
        DateTimeOffset after = TimeProvider.System.GetUtcNow();
        Assert.InRange(system.Time!.Value, before - Tolerance, after + Tolerance);

        var fake = new FakeTimeProvider(new DateTimeOffset(2026, 3, 4, 5, 6, 7, 891, TimeSpan.Zero));
        fake.Advance(TimeSpan.FromTicks(2345));
        CloudEvent exact = await DispatchOnceAsync(fake);
        Assert.Equal(fake.GetUtcNow(), exact.Time);
    }

    private static async Task<CloudEvent> DispatchOnceAsync(TimeProvider? time)
    {
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        var recorder = new Recorder();
        services.AddSingleton(recorder);
        services.AddDomainEvents().AddHandler<OrderPlaced, RecordingHandler>();
        await using ServiceProvider provider = services.BuildServiceProvider();
        await provider.GetRequiredService<IDomainEventDispatcher>().DispatchAsync(new OrderPlaced("o-1", 1), TestContext.Current.CancellationToken);
        return Assert.Single(recorder.Seen).Envelope;
    }
}
