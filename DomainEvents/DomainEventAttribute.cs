namespace Lilith.DomainEvents;

/// <summary>
/// Names the CloudEvents <c>type</c> of a domain event class or record. Without it the type is the class's
/// full name in lowercase (<c>Shop.Orders.OrderPlaced</c> becomes <c>shop.orders.orderplaced</c>).
/// </summary>
/// <example><code>[DomainEvent("com.example.order.placed.v1")] public sealed record OrderPlaced(string OrderId, decimal Total);</code></example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class DomainEventAttribute : Attribute
{
    /// <summary>Names the CloudEvents type of the event.</summary>
    /// <param name="type">A versioned, reverse-DNS name such as <c>com.example.order.placed.v1</c>.</param>
    public DomainEventAttribute(string type)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        Type = type;
    }

    /// <summary>The CloudEvents <c>type</c> attribute.</summary>
    public string Type { get; }
}
