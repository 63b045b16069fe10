namespace Lilith.DomainEvents;

/// <summary>A CloudEvent is not valid JSON, misses a required attribute, or has one of the wrong form.</summary>
public sealed class CloudEventFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, naming the attribute and the value.</param>
    public CloudEventFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public CloudEventFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
