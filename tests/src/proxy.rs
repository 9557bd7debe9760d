//! A TCP proxy that cuts connections: the n-th connection it accepts is
//! closed, both ways, once `cuts[n]` bytes have gone from the client to the
//! server; connections after the last cut pass untouched. Cut points are
//! byte counts, not times, so a test that uses it is repeatable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy; stops when dropped.
pub struct CuttingProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    cuts_made: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl CuttingProxy {
    /// Forwards to `target`, cutting the first connections at `cuts`.
    pub async fn start(target: SocketAddr, cuts: Vec<u64>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let cuts_made = Arc::new(AtomicUsize::new(0));
        let made = Arc::clone(&cuts_made);
        let task = tokio::spawn(async move {
            let mut cuts = cuts.into_iter();
            while let Ok((client, _)) = listener.accept().await {
                let limit = cuts.next();
                let made = Arc::clone(&made);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await
                        && forward(client, server, limit).await
                    {
                        made.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Ok(Self {
            address,
            cuts_made,
            task,
        })
    }

    /// How many connections were cut so far.
    pub fn cuts_made(&self) -> usize {
        self.cuts_made.load(Ordering::SeqCst)
    }

    /// The proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies both ways until either side closes or, with a limit, until that
/// many bytes went upstream. Returns whether it cut the connection.
async fn forward(client: TcpStream, server: TcpStream, limit: Option<u64>) -> bool {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut sent = 0u64;
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => read,
            };
            let allowed = limit.map_or(read, |limit| read.min((limit - sent) as usize));
            if server_write.write_all(&buffer[..allowed]).await.is_err() {
                return false;
            }
            sent += allowed as u64;
            if limit == Some(sent) {
                return true;
            }
        }
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        false
    };
    // Whichever ends first ends the connection: the halves are dropped,
    // closing both sockets.
    tokio::select! {
        cut = upstream => cut,
        cut = downstream => cut,
    }
}
