/** @type {import('next').NextConfig} */
const nextConfig = {
  // pg and the PostgreSQL toolbox run only on the server; keep them out of the bundler.
  serverExternalPackages: ["pg", "bcryptjs"],
  poweredByHeader: false,
};

export default nextConfig;
