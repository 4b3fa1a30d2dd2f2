//! DNS lookups of domain verification: the TXT records of a name, from the configured server
//! (`PORTAL_DNS_RESOLVER`) or the system's. Nothing is cached: a record just added is seen at
//! the next check (as far as the resolver asked has it).

use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use portal_domain::domains::Lookup;

pub struct Dns {
    resolver: TokioResolver,
}

impl Dns {
    /// A resolver asking `server`, or the system's resolvers.
    pub fn new(server: Option<std::net::SocketAddr>) -> std::io::Result<Self> {
        let mut options = ResolverOpts::default();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(5);
        options.attempts = 2;
        // A TXT name is asked as it is, never under the system's search domains.
        options.ndots = 0;
        let builder = match server {
            Some(addr) => {
                let servers = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), servers),
                    TokioConnectionProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio().map_err(std::io::Error::other)?,
        };
        Ok(Self { resolver: builder.with_options(options).build() })
    }

    /// The TXT strings of `name` (each record's strings joined).
    pub async fn txt(&self, name: &str) -> Lookup {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn).await {
            Ok(found) => Lookup::Records(
                found
                    .iter()
                    .map(|txt| txt.txt_data().iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                    .collect(),
            ),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Lookup::Missing,
            Err(e) => Lookup::Failed(e.to_string()),
        }
    }
}
