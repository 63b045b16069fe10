namespace Lilith.ServiceAddresses.Tests;

/// <summary>Every validation rule with its exact message (schema/service-addresses.md, "Validation").</summary>
public sealed class ValidationTests
{
    [Fact]
    public void Port_out_of_range() => Assert.Equal(
        ["services.api-gateway.port: 70000 is not in 1..65535", "services.web.endpoints.grpc: 0 is not in 1..65535"],
        TestRegistries.ErrorsOf("services:\n  api-gateway:\n    port: 70000\n  web:\n    port: 81\n    endpoints:\n      grpc: 0\n"));

    [Fact]
    public void Port_not_a_number() => Assert.Equal(
        ["services.api.port: 'eighty' is not a port number"],
        TestRegistries.ErrorsOf("services:\n  api:\n    port: eighty\n"));

    [Fact]
    public void Port_missing() => Assert.Equal(
        ["services.api: port is missing"],
        TestRegistries.ErrorsOf("services:\n  api:\n    host: a\n"));

    [Fact]
    public void Duplicate_service_names() => Assert.Equal(
        ["services.api: duplicate service name (first defined at line 2)"],
        TestRegistries.ErrorsOf("services:\n  api:\n    port: 80\n  web:\n    port: 81\n  api:\n    port: 82\n"));

    [Fact]
    public void Duplicate_service_names_in_json() =>
        Assert.Equal(
            "services.api: duplicate service name (first defined at line 1)",
            Assert.Single(Assert.Throws<ServiceRegistryException>(() => ServiceRegistry.Parse(
                "{\"services\": {\"api\": {\"port\": 80}, \"api\": {\"port\": 81}}}", RegistryFormat.Json)).Errors).ToString());

    [Fact]
    public void Port_conflict_names_both_services() => Assert.Equal(
        ["services.web.port: localhost:8080 is used by both api (http) and web (http) in environment 'development'"],
        TestRegistries.ErrorsOf("services:\n  api:\n    port: 8080\n  web:\n    port: 8080\n"));

    [Fact]
    public void Port_conflict_only_in_the_environment_that_has_it()
    {
        const string yaml = "services:\n  api:\n    port: 8080\n  web:\n    port: 8081\n    endpoints:\n      grpc: 9000\nenvironments:\n  production:\n    web:\n      port: 8080\n";
        Assert.Equal(8081, ServiceRegistry.Parse(yaml, RegistryFormat.Yaml, "development").GetPort("web"));
        Assert.Equal(
            ["environments.production.web.port: localhost:8080 is used by both api (http) and web (http) in environment 'production'"],
            TestRegistries.ErrorsOf(yaml, "production"));
    }

    [Fact]
    public void Different_hosts_do_not_conflict() =>
        Assert.Equal(2, ServiceRegistry.Parse("services:\n  api:\n    host: a\n    port: 80\n  web:\n    host: b\n    port: 80\n", RegistryFormat.Yaml).Services.Count);

    [Fact]
    public void Unknown_dependency_suggests_the_closest_name() => Assert.Equal(
        ["services.web.dependencies[1]: unknown service 'auht' (did you mean 'auth'?)"],
        TestRegistries.ErrorsOf("services:\n  auth:\n    port: 80\n  web:\n    port: 81\n    dependencies: [auth, auht]\n"));

    [Fact]
    public void Self_dependency() => Assert.Equal(
        ["services.auth.dependencies[0]: 'auth' depends on itself"],
        TestRegistries.ErrorsOf("services:\n  auth:\n    port: 80\n    dependencies: [auth]\n"));

    [Fact]
    public void Cycle_is_printed_as_a_path() => Assert.Equal(
        ["services.a.dependencies: dependency cycle a -> b -> c -> a"],
        TestRegistries.ErrorsOf("services:\n  a:\n    port: 1\n    dependencies: [b]\n  b:\n    port: 2\n    dependencies: [c]\n  c:\n    port: 3\n    dependencies: [a]\n"));

    [Fact]
    public void Override_of_an_unknown_service() => Assert.Equal(
        ["environments.production.ap: unknown service 'ap' (did you mean 'api'?)"],
        TestRegistries.ErrorsOf("services:\n  api:\n    port: 80\nenvironments:\n  production:\n    ap:\n      port: 81\n"));

    [Fact]
    public void Unknown_members_and_wrong_types() => Assert.Equal(
        [
            "services.api.prot: unknown member (a service has host, port, scheme, endpoints, dependencies, tags)",
            "services.api.tags: must be a list, not a scalar",
            "services.api.scheme: '1http' is not a URI scheme (a letter, then letters, digits, '+', '-' or '.')",
            "servics: unknown member (a registry has version, services, environments)",
        ],
        TestRegistries.ErrorsOf("services:\n  api:\n    port: 80\n    prot: 81\n    tags: edge\n    scheme: 1http\nservics: {}\n"));

    [Fact]
    public void Bad_names_follow_the_key_schema() => Assert.Equal(
        ["services.a{b}: The service name 'a{b}' contains '{', which the key schema does not allow in a name (no braces, no control characters, no lone surrogates)."],
        TestRegistries.ErrorsOf("services:\n  a{b}:\n    port: 80\n"));

    [Fact]
    public void Unknown_version_is_refused() => Assert.Equal(
        ["version: 2 is not known to this reader, which knows 1"],
        TestRegistries.ErrorsOf("version: 2\nservices:\n  api:\n    port: 80\n"));

    [Fact]
    public void Every_error_is_reported_at_once()
    {
        IReadOnlyList<string> errors = TestRegistries.ErrorsOf(
            "services:\n  api-gateway:\n    port: 70000\n  a:\n    port: 1\n    dependencies: [a, ghost]\n  b:\n    port: 1\n");
        Assert.Equal(
            [
                "services.api-gateway.port: 70000 is not in 1..65535",
                "services.a.dependencies[0]: 'a' depends on itself",
                "services.a.dependencies[1]: unknown service 'ghost'",
                "services.b.port: localhost:1 is used by both a (http) and b (http) in environment 'development'",
            ],
            errors);
    }

    [Fact]
    public void Validate_checks_every_environment_without_throwing()
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"registry-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "services:\n  api:\n    port: 8080\n  web:\n    port: 8081\nenvironments:\n  production:\n    web:\n      port: 8080\n");
        try
        {
            Assert.Equal(
                ["environments.production.web.port: localhost:8080 is used by both api (http) and web (http) in environment 'production'"],
                ServiceRegistry.Validate(path).Select(e => e.ToString()));
            Assert.Empty(ServiceRegistry.Validate(TestRegistries.Path("fleet.yaml")));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Port_in_use_on_this_machine_is_reported_when_asked()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"registry-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, $"services:\n  api:\n    host: 127.0.0.1\n    port: {port}\n");
        try
        {
            Assert.Empty(ServiceRegistry.Validate(path));
            Assert.Equal([$"services.api.port: 127.0.0.1:{port} is in use on this machine"], ServiceRegistry.Validate(path, checkPortsFree: true).Select(e => e.ToString()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Errors_found_after_reading_carry_the_line_and_column()
    {
        var e = Assert.Throws<ServiceRegistryException>(() => ServiceRegistry.Parse(
            "services:\n  api:\n    port: 8080\n  web:\n    port: 8080\n    dependencies: [api, ghost]\n", RegistryFormat.Yaml, "development"));
        Assert.Equal(
            [("services.web.dependencies[1]", 6, 25), ("services.web.port", 5, 11)],
            e.Errors.Select(x => (x.Path, x.Line, x.Column)));
    }
}
