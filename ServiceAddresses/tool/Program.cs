using Lilith.ServiceAddresses;

// lilith-addresses check <file>... [--check-ports] [--environment <name>]
// Exit codes: 0 valid, 1 errors found, 2 bad usage.
const string Usage = """
    Usage: lilith-addresses check <registry.yaml|registry.json>... [--check-ports] [--environment <name>]

    Validates service registry files: port ranges, duplicate names, port conflicts in every environment,
    unknown and self dependencies, dependency cycles. --check-ports also checks that this machine's ports are
    free. --environment prints the effective registry of one environment after a successful check.
    Exit code 0 when every file is valid, 1 when one has errors, 2 on bad usage.
    """;

if (args.Length < 2 || args[0] != "check")
{
    Console.Error.WriteLine(Usage);
    return 2;
}

var files = new List<string>();
bool checkPorts = false;
string? environment = null;
for (int i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--check-ports":
            checkPorts = true;
            break;
        case "--environment" when i + 1 < args.Length:
            environment = args[++i];
            break;
        case var option when option.StartsWith("--", StringComparison.Ordinal):
            Console.Error.WriteLine($"Unknown option '{option}'.");
            Console.Error.WriteLine(Usage);
            return 2;
        default:
            files.Add(args[i]);
            break;
    }
}

if (files.Count == 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

int exitCode = 0;
foreach (string file in files)
{
    IReadOnlyList<RegistryError> errors = ServiceRegistry.Validate(file, checkPorts);
    if (errors.Count > 0)
    {
        exitCode = 1;
        Console.WriteLine($"{file}: {errors.Count} error{(errors.Count == 1 ? "" : "s")}");
        foreach (RegistryError error in errors)
        {
            string where = error.Line > 0 ? $"{file}:{error.Line}:{error.Column}: " : $"{file}: ";
            Console.WriteLine($"  {where}{error}");
        }

        continue;
    }

    Console.WriteLine($"{file}: valid");
    if (environment is not null)
    {
        ServiceRegistry registry = ServiceRegistry.Load(file, environment);
        Console.WriteLine($"  environment {registry.Environment}, start order: {string.Join(" -> ", registry.GetStartOrder())}");
        foreach (ServiceAddress service in registry.Services)
        {
            Console.WriteLine($"  {service.Name,-24} {string.Join(" ", service.Endpoints.Select(e => $"{e.Key}://{service.Host}:{e.Value}"))}");
        }
    }
}

return exitCode;
