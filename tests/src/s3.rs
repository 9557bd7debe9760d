//! A real S3-compatible server for tests: `s3s-fs`, which
//! `scripts/setup.sh` builds, serving a temporary folder on a port the OS
//! chooses. Started per test and killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::Context;
use doorstep_server::photos::Blobs;
use object_store::aws::AmazonS3Builder;

const ACCESS_KEY: &str = "doorstep-test";
const SECRET_KEY: &str = "doorstep-test-secret";

/// A running `s3s-fs`.
pub struct S3Server {
    /// Its endpoint, `http://127.0.0.1:port`.
    pub endpoint: String,
    child: Child,
}

/// Where `scripts/setup.sh` puts `s3s-fs`, unless `DOORSTEP_S3S_FS` names it.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("DOORSTEP_S3S_FS") {
        return PathBuf::from(path);
    }
    let tools = std::env::var_os("DOORSTEP_TOOLS_DIR").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/doorstep-tools")
        },
        PathBuf::from,
    );
    tools.join("bin/s3s-fs")
}

impl S3Server {
    /// Starts a server over `root` with one bucket, `bucket`.
    pub fn start(root: &Path, bucket: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(bucket))?;
        let binary = binary();
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "could not start the S3 test server {}: run ./scripts/setup.sh, which builds it",
                    binary.display()
                )
            })?;
        let stdout = child.stdout.take().context("no stdout")?;
        // It says where it listens once it does: wait for that line.
        let mut endpoint = None;
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(at) = line.find("server is running at ") {
                endpoint = Some(line[at + "server is running at ".len()..].trim().to_owned());
                break;
            }
        }
        let Some(endpoint) = endpoint else {
            let _ = child.kill();
            anyhow::bail!("{} stopped before it listened", binary.display());
        };
        Ok(Self { endpoint, child })
    }

    /// A photo store in `bucket` on this server.
    pub fn blobs(&self, bucket: &str, max_bytes: u64) -> anyhow::Result<Blobs> {
        let s3 = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()?;
        Ok(Blobs::over(Arc::new(s3), max_bytes))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
