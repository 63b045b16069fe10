namespace Lilith.ServiceAddresses.Tests;

public sealed class FormatTests
{
    [Theory]
    [InlineData("development")]
    [InlineData("production")]
    [InlineData("staging")]
    public void Yaml_and_json_give_an_equal_model(string environment)
    {
        ServiceRegistry yaml = ServiceRegistry.Load(TestRegistries.Path("fleet.yaml"), environment);
        ServiceRegistry json = ServiceRegistry.Load(TestRegistries.Path("fleet.json"), environment);

        Assert.Equal(4, yaml.Services.Count);
        Assert.Equivalent(yaml.Services, json.Services, strict: true);
        Assert.Equal(yaml.GetStartOrder(), json.GetStartOrder());
        Assert.Equal(environment, json.Environment);
    }

    [Fact]
    public void Defaults_and_environment_overrides_apply()
    {
        ServiceRegistry development = TestRegistries.Fleet("Development");
        Assert.Equal("development", development.Environment);
        Assert.Equal("localhost", development.GetHost("auth"));
        Assert.Equal("http", development.GetService("auth").Scheme);
        Assert.Equal(new Uri("http://localhost:8080/"), development.GetUrl("api-gateway"));
        Assert.Equal(new Uri("https://localhost:8443/"), development.GetUrl("api-gateway", "https"));

        ServiceRegistry production = TestRegistries.Fleet("production");
        Assert.Equal("gateway.internal", production.GetHost("api-gateway"));
        Assert.Equal(80, production.GetPort("api-gateway"));
        Assert.Equal(443, production.GetPort("api-gateway", "https"));
        Assert.Equal("db.internal", production.GetHost("postgres"));
        Assert.Equal(5432, production.GetPort("postgres"));

        Assert.Equal(9081, TestRegistries.Fleet("staging").GetPort("auth"));
    }

    [Fact]
    public void Malformed_yaml_gives_line_and_column()
    {
        string yaml = "services:\n  api:\n    port: 80\n   host: [broken\n";
        var e = Assert.Throws<ServiceRegistryException>(() => ServiceRegistry.Parse(yaml, RegistryFormat.Yaml));
        RegistryError error = Assert.Single(e.Errors);
        Assert.Equal(4, error.Line);
        Assert.True(error.Column > 0);
        Assert.StartsWith($"invalid YAML at line 4, column {error.Column}: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_gives_line_and_column()
    {
        string json = "{\n  \"services\": {\n    \"api\": { \"port\": 80, }\n    \"web\": {}\n  }\n}";
        var e = Assert.Throws<ServiceRegistryException>(() => ServiceRegistry.Parse(json, RegistryFormat.Json));
        RegistryError error = Assert.Single(e.Errors);
        Assert.Equal(4, error.Line);
        Assert.Equal(5, error.Column);
        Assert.StartsWith("invalid JSON at line 4, column 5: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Structural_errors_carry_the_line_of_the_value()
    {
        string yaml = "services:\n  api:\n    port: 80\n  web:\n    port: high\n";
        var e = Assert.Throws<ServiceRegistryException>(() => ServiceRegistry.Parse(yaml, RegistryFormat.Yaml));
        RegistryError error = Assert.Single(e.Errors);
        Assert.Equal("services.web.port: 'high' is not a port number", error.ToString());
        Assert.Equal((5, 11), (error.Line, error.Column));
    }

    [Fact]
    public void Yaml_anchors_and_aliases_are_read()
    {
        ServiceRegistry registry = ServiceRegistry.Parse(
            "services:\n  api:\n    port: 80\n    tags: &t [a, b]\n  web:\n    port: 81\n    tags: *t\n", RegistryFormat.Yaml);
        Assert.Equal(["a", "b"], registry.GetService("web").Tags);
    }

    [Fact]
    public void Missing_file_is_reported_as_a_registry_error()
    {
        var e = Assert.Throws<ServiceRegistryException>(() => ServiceRegistry.Load(TestRegistries.Path("nope.yaml")));
        Assert.StartsWith("the file cannot be read: ", Assert.Single(e.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_configured_environment_wins_and_is_lowercased()
    {
        Assert.Equal("staging", ServiceRegistry.ResolveEnvironment("Staging"));
        Assert.Equal("qa", ServiceRegistry.ResolveEnvironment(" QA "));
        string fallback = ServiceRegistry.ResolveEnvironment(null);
        string? expected = Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") is { Length: > 0 } d ? d
            : Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") is { Length: > 0 } a ? a : "production";
        Assert.Equal(expected.Trim().ToLowerInvariant(), fallback);
    }
}
