namespace Lilith.DomainEvents.Internal;

/// <summary>Default values that are not option defaults.</summary>
internal static class DomainEventsDefaults
{
    /// <summary>The source path of events published by a service that set neither a service name nor a source (it consumes nothing).</summary>
    public const string UnnamedService = "service";

    /// <summary>The highest consumer ordinal tried on one host before giving up.</summary>
    public const int MaxOrdinal = 1024;
}
