using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>
/// Every discovery payload vector of schema/vectors, mutated member by member (every other JSON type, null, removed, huge
/// strings, unknown members, other versions), written to Redis and read by a live client. Expected readability comes from
/// the schema's reading rule, stated here on its own: no exception escapes, the good neighbours stay visible, and each
/// unreadable payload is counted in the malformed-entries metric, each readable one seen.
/// </summary>
public sealed class PayloadFuzzTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] InstanceRequired = ["v", "id", "host", "port"];

    private static readonly string[] EventRequired = ["v", "type", "service", "id", "revision", "at"];

    /// <summary>Members whose strings are one of a few values, and strings that must match something else.</summary>
    private static readonly string[] NoHugeString = ["health", "type", "service"];

    [Fact]
    public async Task Mutated_instance_vectors_hide_only_themselves_and_are_counted()
    {
        JsonObject vector = Vector("instance");
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        string service = "fuzz-" + Guid.NewGuid().ToString("N")[..8];
        await raw.WriteAsync(service, "good-1", """{"v":1,"id":"good-1","host":"10.0.0.1","port":8080}""");
        var expectVisible = new List<string> { "good-1" };
        var fields = new List<string> { "good-1" };
        int unreadable = 0, n = 0;
        foreach (Mutation m in Mutations(vector, InstanceRequired, ""))
        {
            // Each entry under a field of its own, its id the same; a mutated id keeps its value (a huge one is stored under itself).
            string field = $"m-{++n}";
            if (m.Path != "id")
            {
                m.Payload["id"] = field;
            }
            else if (m.Payload["id"] is JsonValue id && id.GetValueKind() == System.Text.Json.JsonValueKind.String)
            {
                field = id.GetValue<string>();
            }

            await raw.WriteAsync(service, field, m.Payload.ToJsonString());
            fields.Add(field);
            if (m.Readable)
            {
                expectVisible.Add(field);
            }
            else
            {
                unreadable++;
            }
        }

        using var malformed = new MalformedCount(service);
        await using ServiceProvider client = await RawDiscovery.ClientAsync(redis, raw.Prefix, o => o.SweepInterval = TimeSpan.FromMilliseconds(200));
        IReadOnlyList<ServiceInstance> resolved = await client.GetRequiredService<IServiceResolver>().ResolveAsync(service, new InstanceFilter { IncludeWarning = true }, Ct);

        Assert.True(n > 60, $"only {n} mutations");
        Assert.Equal(expectVisible.Order(StringComparer.Ordinal), resolved.Select(i => i.Id).Order(StringComparer.Ordinal));
        // Each load counts every unreadable entry once (a reload under load counts them again).
        Assert.True(malformed.Value >= unreadable && malformed.Value % unreadable == 0, $"{malformed.Value} counted for {unreadable} unreadable entries");

        // Expired, every entry is swept, readable or not.
        foreach (string field in fields)
        {
            await raw.ExpireAsync(service, field);
        }

        await Eventually.TrueAsync(async () => await raw.Db.HashLengthAsync(raw.Keys.Instances(service)) == 0, Within, "every mutated entry swept");
    }

    [Theory]
    [InlineData("event-registered")]
    [InlineData("event-expired")]
    public async Task Mutated_event_vectors_are_counted_or_delivered_and_the_loop_goes_on(string vectorId)
    {
        string service = "fuzz-" + Guid.NewGuid().ToString("N")[..8];
        JsonObject vector = Vector(vectorId);
        vector["service"] = service;
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        using var malformed = new MalformedCount(service);
        await using ServiceProvider client = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        await using ServiceProvider writer = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        IServiceResolver resolver = client.GetRequiredService<IServiceResolver>();
        Assert.Empty(await resolver.ResolveAsync(service, cancellationToken: Ct));
        await using var events = new EventLog(resolver, service);
        int n = 0;
        foreach (Mutation m in Mutations(vector, EventRequired, ""))
        {
            n++;
            long countBefore = malformed.Value;
            int deliveredBefore = events.Events.Count(e => !e.IsResync && !e.InstanceId.StartsWith("marker-", StringComparison.Ordinal));
            string marker = $"marker-{n}";
            await raw.PublishAsync(service, m.Payload.ToJsonString());
            await raw.PublishAsync(service, $$"""{"v":1,"type":"deregistered","service":"{{service}}","id":"{{marker}}","revision":1,"at":1}""");
            await Eventually.TrueAsync(() => events.Has(DiscoveryEventKind.Deregistered, marker), Within, $"the loop goes on after {m.Path} ({m.Name})");

            // On a cluster the client may hold a per-service and a pattern subscription on different nodes, so the
            // marker can overtake the mutation: wait for the mutation's own outcome, then check it is the only one.
            int Delivered() => events.Events.Count(e => !e.IsResync && !e.InstanceId.StartsWith("marker-", StringComparison.Ordinal));
            string shown = $"{m.Path} ({m.Name}): {m.Payload.ToJsonString()[..Math.Min(300, m.Payload.ToJsonString().Length)]}";
            if (m.Readable)
            {
                await Eventually.TrueAsync(() => Delivered() > deliveredBefore, Within, $"delivered: {shown}");
                Assert.Equal(countBefore, malformed.Value);
            }
            else
            {
                await Eventually.TrueAsync(() => malformed.Value == countBefore + 1, Within, $"counted as unreadable: {shown}");
                Assert.Equal(deliveredBefore, Delivered());
            }
        }

        // The cache is live after all of it: a real registration resolves.
        await writer.GetRequiredService<IServiceRegistry>().RegisterAsync(service, new ServiceInstance { Id = "real-1", Host = "10.0.0.1", Port = 8080 }, Ct);
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync(service, cancellationToken: Ct)).Any(i => i.Id == "real-1"), Within, "a registration after the fuzzing resolves");
        Assert.True(n > 30, $"only {n} mutations");
    }

    private static JsonObject Vector(string id) =>
        JsonNode.Parse(GoldenVectors.Payloads("service-discovery").Single(p => p.Id == id).Json)!.AsObject();

    private sealed record Mutation(string Path, string Name, JsonObject Payload, bool Readable);

    /// <summary>
    /// The mutations of <paramref name="original"/> and, for a registered event, of its instance. The expected readability is
    /// the reading rule: null or removed is fine for an optional member only; any other type, a fraction, a raised or zero
    /// <c>v</c>, a huge string where a fixed value is due, make the payload unreadable; unknown members change nothing.
    /// </summary>
    private static IEnumerable<Mutation> Mutations(JsonObject root, string[] required, string path)
    {
        foreach ((string name, JsonNode? value) in Target(root, path).ToList())
        {
            string at = path + name;
            bool isRequired = required.Contains(name) || (name == "instance" && path.Length == 0);
            JsonValueKindOf kind = KindOf(value);
            foreach ((string label, Func<JsonNode?> make) in Alternatives(kind))
            {
                yield return new(at, label, With(root, path, name, make()), label == "null" && !isRequired);
            }

            yield return new(at, "removed", Without(root, path, name), !isRequired);
            if (kind == JsonValueKindOf.String && !NoHugeString.Contains(name))
            {
                // An instance's id must equal the event's id (or its field): a huge one on one side only is a mismatch.
                bool matched = name != "id" || (path.Length == 0 && !root.ContainsKey("instance"));
                yield return new(at, "huge string", With(root, path, name, JsonValue.Create(new string('x', 100_000))), matched);
            }

            if (value is JsonObject && name == "instance")
            {
                foreach (Mutation m in Mutations(root, InstanceRequired, "instance."))
                {
                    yield return m;
                }
            }
        }

        yield return new(path + "v", "raised to 2", With(root, path, "v", JsonValue.Create(2)), false);
        yield return new(path + "v", "zero", With(root, path, "v", JsonValue.Create(0)), false);
        yield return new(path + "*", "unknown members", With(With(root, path, "futureMember", JsonNode.Parse("""{"deep":[1,{"x":null}],"s":"t"}""")), path, "zzz", null), true);
    }

    private enum JsonValueKindOf
    {
        String,
        Number,
        Boolean,
        Array,
        Object,
    }

    private static JsonValueKindOf KindOf(JsonNode? node) => node switch
    {
        JsonArray => JsonValueKindOf.Array,
        JsonObject => JsonValueKindOf.Object,
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => JsonValueKindOf.String,
        JsonValue v when v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => JsonValueKindOf.Boolean,
        _ => JsonValueKindOf.Number,
    };

    /// <summary>Values of every other JSON type, plus the ones that break an element rule or a whole number.</summary>
    private static IEnumerable<(string Label, Func<JsonNode?> Make)> Alternatives(JsonValueKindOf kind)
    {
        if (kind != JsonValueKindOf.String)
        {
            yield return ("string", () => JsonValue.Create("7"));
        }

        if (kind != JsonValueKindOf.Number)
        {
            yield return ("integer", () => JsonValue.Create(7));
        }

        yield return ("fraction", () => JsonValue.Create(1.5));
        yield return ("boolean", () => JsonValue.Create(true));
        yield return ("null", () => null);
        yield return ("array of numbers", () => new JsonArray(1, 2));
        if (kind != JsonValueKindOf.Object)
        {
            yield return ("object", () => new JsonObject { ["k"] = "v" });
        }
        else
        {
            yield return ("object of numbers", () => new JsonObject { ["k"] = 1 });
        }

        if (kind != JsonValueKindOf.Array)
        {
            yield return ("empty array", () => new JsonArray());
        }
    }

    private static JsonObject With(JsonObject root, string path, string name, JsonNode? value)
    {
        JsonObject copy = root.DeepClone().AsObject();
        Target(copy, path)[name] = value;
        return copy;
    }

    private static JsonObject Without(JsonObject root, string path, string name)
    {
        JsonObject copy = root.DeepClone().AsObject();
        Target(copy, path).Remove(name);
        return copy;
    }

    private static JsonObject Target(JsonObject root, string path) => path.Length == 0 ? root : root["instance"]!.AsObject();
}
