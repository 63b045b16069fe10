using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Lilith.Testing.Redis;

/// <summary>
/// A certificate authority and a server certificate (for <c>localhost</c> and <c>127.0.0.1</c>) made at test time,
/// written as PEM files to a folder of their own for <c>redis-server --tls-*</c>. Nothing is installed in any trust
/// store: a client trusts the authority through <see cref="CaCertificate"/> (StackExchange.Redis <c>TrustIssuer</c>).
/// </summary>
public sealed class RedisTlsFiles : IDisposable
{
    private RedisTlsFiles(string folder, X509Certificate2 ca)
    {
        Folder = folder;
        CaCertificate = ca;
    }

    /// <summary>The folder holding the PEM files.</summary>
    public string Folder { get; }

    /// <summary>The test authority's certificate (public part only).</summary>
    public X509Certificate2 CaCertificate { get; }

    /// <summary>The authority's certificate, PEM.</summary>
    public string CaCertificateFile => Path.Combine(Folder, "ca.crt");

    /// <summary>The server's certificate, PEM.</summary>
    public string ServerCertificateFile => Path.Combine(Folder, "redis.crt");

    /// <summary>The server's private key, PEM (PKCS#8).</summary>
    public string ServerKeyFile => Path.Combine(Folder, "redis.key");

    /// <summary>Makes a new authority and server certificate, valid from an hour ago for one day.</summary>
    public static RedisTlsFiles Create()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"lilith-tls-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        DateTimeOffset notBefore = TimeProvider.System.GetUtcNow().AddHours(-1);
        DateTimeOffset notAfter = notBefore.AddDays(1);

        using RSA caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Lilith test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
        using X509Certificate2 caWithKey = caRequest.CreateSelfSigned(notBefore, notAfter);

        using RSA serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using X509Certificate2 server = serverRequest.Create(caWithKey, notBefore, notAfter, serial);

        var files = new RedisTlsFiles(folder, X509CertificateLoader.LoadCertificate(caWithKey.RawData));
        File.WriteAllText(files.CaCertificateFile, caWithKey.ExportCertificatePem());
        File.WriteAllText(files.ServerCertificateFile, server.ExportCertificatePem());
        File.WriteAllText(files.ServerKeyFile, serverKey.ExportPkcs8PrivateKeyPem());
        return files;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        CaCertificate.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A server still reading the files; the temp folder is cleaned up by the OS.
        }
    }
}
