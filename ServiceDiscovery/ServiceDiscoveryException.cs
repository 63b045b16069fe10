namespace Lilith.ServiceDiscovery;

/// <summary>A service has no available instance, or discovery data cannot be used.</summary>
public sealed class ServiceDiscoveryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ServiceDiscoveryException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ServiceDiscoveryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public ServiceDiscoveryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
