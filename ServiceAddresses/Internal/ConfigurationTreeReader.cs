using Microsoft.Extensions.Configuration;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>
/// Reads a configuration section (appsettings, environment variables ...) into a <see cref="RawNode"/> tree:
/// a section whose children are all named 0, 1, 2 ... is a list, as the configuration binder reads it.
/// Configuration has no positions, so every node is at line 0.
/// </summary>
internal static class ConfigurationTreeReader
{
    public static RawNode Read(IConfiguration section)
    {
        List<IConfigurationSection> children = section.GetChildren().ToList();
        if (children.Count == 0)
        {
            return new RawScalar(section is IConfigurationSection s ? s.Value : null, 0, 0);
        }

        if (children.All(c => int.TryParse(c.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)))
        {
            return new RawSequence(
                children.OrderBy(c => int.Parse(c.Key, System.Globalization.CultureInfo.InvariantCulture)).Select(Read).ToList(), 0, 0);
        }

        return new RawMapping(children.Select(c => new RawEntry(c.Key, 0, 0, Read(c))).ToList(), 0, 0);
    }
}
