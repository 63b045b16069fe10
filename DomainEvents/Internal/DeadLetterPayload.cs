using System.Text.Encodings.Web;
using System.Text.Json;
using Lilith.Common;

namespace Lilith.DomainEvents.Internal;

/// <summary>The <c>deadLetter</c> field of a dead-letter entry (schema/domain-events.md), members in write order.</summary>
internal sealed record DeadLetterPayload(int V, string Stream, string Group, string Consumer, string EntryId, int Attempts, string Reason, string? Error)
{
    // Error texts are free text: write them as JSON.stringify and json.dumps(ensure_ascii=False) would (no \u0027 for ').
    private static readonly JsonSerializerOptions Options = new(WireJson.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static DeadLetterPayload Parse(string json) =>
        JsonSerializer.Deserialize<DeadLetterPayload>(json, Options) ?? throw new JsonException("The dead-letter payload is null.");

    public DeadLetter ToDeadLetter(string? eventField) => new(Stream, Group, Consumer, EntryId, Attempts, Reason, Error, eventField);
}

/// <summary>Dead-letter reasons (lowercase kebab-case on the wire).</summary>
internal static class DeadLetterReasons
{
    public const string HandlerFailed = "handler-failed";
    public const string TooManyDeliveries = "too-many-deliveries";
    public const string Malformed = "malformed";
    public const string UnknownVersion = "unknown-version";
    public const string Trimmed = "trimmed";
}
