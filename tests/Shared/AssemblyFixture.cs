// One Redis fixture per test assembly: the server starts on first use and stops when the assembly's tests end.
[assembly: AssemblyFixture(typeof(Lilith.Testing.Redis.RedisFixture))]
