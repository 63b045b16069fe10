namespace Lilith.DistributedLock;

/// <summary>The lock backend (Redis) could not be reached for as long as the caller was willing to wait.</summary>
public sealed class DistributedLockException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DistributedLockException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public DistributedLockException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The backend's error.</param>
    public DistributedLockException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
