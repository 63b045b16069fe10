using System.Collections.Concurrent;
using System.Reflection;

namespace Lilith.DomainEvents.Internal;

/// <summary>Maps CLR event types to CloudEvents type names and back.</summary>
internal sealed class EventTypeRegistry
{
    private readonly ConcurrentDictionary<Type, string> _names = new();
    private readonly ConcurrentDictionary<string, Type> _types = new(StringComparer.Ordinal);

    public void Add(Type type, string? name)
    {
        name ??= ConventionName(type);
        if (_types.TryGetValue(name, out Type? existing) && existing != type)
        {
            throw new InvalidOperationException(
                $"CloudEvents type '{name}' is already mapped to {existing.FullName}; {type.FullName} cannot use it too.");
        }

        _types[name] = type;
        _names[type] = name;
    }

    /// <summary>True when any event type was registered (explicitly or through a handler).</summary>
    public bool HasTypes => !_types.IsEmpty;

    /// <summary>The CloudEvents type of <paramref name="type"/> (registered, attribute or convention).</summary>
    public string NameOf(Type type) => _names.GetOrAdd(type, ConventionName);

    /// <summary>The CLR type registered for a CloudEvents type, or null.</summary>
    public Type? TypeOf(string name) => _types.GetValueOrDefault(name);

    private static string ConventionName(Type type) =>
        type.GetCustomAttribute<DomainEventAttribute>()?.Type ?? (type.FullName ?? type.Name).Replace('+', '.').ToLowerInvariant();
}
