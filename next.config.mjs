// Pages and routes get their security headers (CSP with a nonce, HSTS behind https) from proxy.ts;
// the build's static files and icons, which the proxy skips, get these.
const staticHeaders = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
];

/** @type {import('next').NextConfig} */
const nextConfig = {
  // pg and the PostgreSQL toolbox run only on the server; keep them out of the bundler.
  serverExternalPackages: ["pg", "bcryptjs"],
  poweredByHeader: false,
  async headers() {
    return [
      { source: "/_next/static/:path*", headers: staticHeaders },
      { source: "/_next/image", headers: staticHeaders },
      { source: "/favicon.svg", headers: staticHeaders },
      { source: "/logo.svg", headers: staticHeaders },
    ];
  },
};

export default nextConfig;
