using System.Text.Json;

namespace Lilith.DomainEvents.Tests;

public sealed class CloudEventTests
{
    private const string Full = """{"specversion":"1.0","id":"7f1c9e2a-1d2b-4c1e-9a57-0f5a2b1e3c4d","source":"/orders-service","type":"com.example.order.placed.v1","datacontenttype":"application/json","dataschema":"https://schemas.example.com/order-placed/v1.json","subject":"order/o-1001","time":"2026-01-02T03:04:05.678Z","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tenant":"acme","data":{"orderId":"o-1001","total":42.5}}""";

    [Fact]
    public void Structured_JSON_round_trips_byte_for_byte_with_extensions_kept()
    {
        CloudEvent e = CloudEvent.Parse(Full);

        Assert.Equal(Full, e.ToJson());
        Assert.Equal("7f1c9e2a-1d2b-4c1e-9a57-0f5a2b1e3c4d", e.Id);
        Assert.Equal("order/o-1001", e.Subject);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero), e.Time);
        Assert.Equal("https://schemas.example.com/order-placed/v1.json", e.DataSchema!.OriginalString);
        Assert.Equal("acme", e.Extensions["tenant"].GetString());
        Assert.Equal(42.5m, e.Data!.Value.GetProperty("total").GetDecimal());
    }

    [Fact]
    public void Binary_data_is_written_as_data_base64_and_read_back()
    {
        var e = new CloudEvent { Id = "1", Source = "/s", Type = "t", DataContentType = "application/octet-stream", DataBase64 = new byte[] { 1, 2, 3 } };

        string json = e.ToJson();

        Assert.Equal("""{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AQID"}""", json);
        Assert.Equal(new byte[] { 1, 2, 3 }, CloudEvent.Parse(json).DataBase64!.Value.ToArray());
        Assert.Null(CloudEvent.Parse(json).Data);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "JSON object; this is a JSON array")]
    [InlineData("""{"id":"1","source":"/s","type":"t"}""", "no 'specversion'")]
    [InlineData("""{"specversion":"0.3","id":"1","source":"/s","type":"t"}""", "specversion '0.3' is not known")]
    [InlineData("""{"specversion":"1.0","source":"/s","type":"t"}""", "'id' is required")]
    [InlineData("""{"specversion":"1.0","id":"1","type":"t"}""", "'source' is required")]
    [InlineData("""{"specversion":"1.0","id":"1","source":"/s"}""", "'type' is required")]
    [InlineData("""{"specversion":"1.0","id":7,"source":"/s","type":"t"}""", "'id' must be a string; it is 7")]
    [InlineData("""{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}""", "'time' must be an RFC 3339 timestamp; 'yesterday'")]
    [InlineData("""{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AQ=="}""", "both 'data' and 'data_base64'")]
    [InlineData("""{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad_Name":1}""", "extension name 'Bad_Name' is not valid")]
    [InlineData("""{"specversion":"1.0","id":"","source":"/s","type":"t"}""", "'id' is required and must be a non-empty string")]
    [InlineData("""{"specversion":"1.0","id":"1","source":"","type":"t"}""", "'source' is required and must be a non-empty string")]
    [InlineData("""{"specversion":"1.0","id":"1","source":"/s","type":"t","tenant":{"name":"acme"}}""", "extension 'tenant' must be a string, number or boolean; it is an object")]
    [InlineData("""{"specversion":"1.0","id":"1","source":"/s","type":"t","tenant":["acme"]}""", "extension 'tenant' must be a string, number or boolean; it is an array")]
    public void Invalid_events_are_refused_with_a_message_naming_the_attribute(string json, string expected)
    {
        CloudEventFormatException e = Assert.Throws<CloudEventFormatException>(() => CloudEvent.Parse(json));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_null_extension_counts_as_absent()
    {
        CloudEvent e = CloudEvent.Parse("""{"specversion":"1.0","id":"1","source":"/s","type":"t","tenant":null,"region":"eu"}""");
        Assert.False(e.Extensions.ContainsKey("tenant"));
        Assert.Equal("eu", e.Extensions["region"].GetString());
    }

    [Fact]
    public void Writing_an_event_without_a_required_attribute_fails_clearly()
    {
        var e = new CloudEvent { Id = "", Source = "/s", Type = "t" };
        CloudEventFormatException error = Assert.Throws<CloudEventFormatException>(() => e.ToJson());
        Assert.Contains("'id' is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Extensions_with_any_JSON_scalar_survive_a_round_trip()
    {
        var e = new CloudEvent
        {
            Id = "1",
            Source = "/s",
            Type = "t",
            Extensions = new Dictionary<string, JsonElement>
            {
                ["retries"] = JsonSerializer.SerializeToElement(3),
                ["urgent"] = JsonSerializer.SerializeToElement(true),
            },
        };

        CloudEvent back = CloudEvent.Parse(e.ToJson());

        Assert.Equal(3, back.Extensions["retries"].GetInt32());
        Assert.True(back.Extensions["urgent"].GetBoolean());
    }
}
