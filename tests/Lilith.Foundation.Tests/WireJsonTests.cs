using System.Text.Json;
using Lilith.Common;

namespace Lilith.Foundation.Tests;

public sealed class WireJsonTests
{
    private enum CircuitState
    {
        Closed,
        Open,
        HalfOpen,
    }

    private sealed record Sample(int V, CircuitState State, long OpenedAt, long? ClosedAt, long BreakDurationMs);

    [Fact]
    public void Writes_camel_case_kebab_enums_and_leaves_out_nulls()
    {
        string json = JsonSerializer.Serialize(new Sample(1, CircuitState.HalfOpen, 1700000000000, null, 30000), WireJson.Options);
        Assert.Equal("""{"v":1,"state":"half-open","openedAt":1700000000000,"breakDurationMs":30000}""", json);
    }

    [Fact]
    public void Ignores_unknown_members_on_read()
    {
        Sample sample = JsonSerializer.Deserialize<Sample>("""{"v":1,"state":"open","openedAt":5,"breakDurationMs":7,"addedLater":{"x":1}}""", WireJson.Options)!;
        Assert.Equal(new Sample(1, CircuitState.Open, 5, null, 7), sample);
    }

    [Fact]
    public void Refuses_integer_enums_and_unknown_enum_names()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Sample>("""{"v":1,"state":2,"openedAt":5,"breakDurationMs":7}""", WireJson.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Sample>("""{"v":1,"state":"ajar","openedAt":5,"breakDurationMs":7}""", WireJson.Options));
    }

    public static TheoryData<string, string> TextVectors()
    {
        var data = new TheoryData<string, string>();
        using JsonDocument vectors = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "vectors", "conventions.json")));
        foreach (JsonElement text in vectors.RootElement.GetProperty("text").EnumerateArray())
        {
            data.Add(text.GetProperty("value").GetString()!, text.GetProperty("json").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TextVectors))]
    public void Text_is_escaped_only_where_JSON_requires_it_as_the_siblings_write_it(string value, string json)
    {
        Assert.Equal(json, JsonSerializer.Serialize(value, WireJson.Options));

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WireJson.WriterOptions))
        {
            writer.WriteStringValue(value);
        }

        Assert.Equal(json, System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
