namespace Lilith.ServiceAddresses.Tests;

internal static class TestRegistries
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Registries", name);

    public static ServiceRegistry Fleet(string environment = "development") => ServiceRegistry.Load(Path("fleet.yaml"), environment);

    /// <summary>The error lines of a registry text (YAML), as the exception lists them.</summary>
    public static IReadOnlyList<string> ErrorsOf(string yaml, string environment = "development")
    {
        var e = Assert.Throws<ServiceRegistryException>(() => ServiceRegistry.Parse(yaml, RegistryFormat.Yaml, environment));
        return e.Errors.Select(x => x.ToString()).ToList();
    }
}
