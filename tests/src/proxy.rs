//! A TCP proxy that cuts connections: counting every byte that goes from
//! clients to the server, over all connections, it closes the connection
//! carrying byte `cut` (both ways) for each cut point, and after the last
//! cut passes everything untouched. Cut points are byte counts, not times,
//! so a test that uses it is repeatable.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Forwards to `target`, cutting at the cumulative upstream byte
    /// counts `cuts` (in increasing order).
    pub async fn start(target: SocketAddr, mut cuts: Vec<u64>) -> std::io::Result<Self> {
        cuts.sort_unstable();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let cuts_made = Arc::new(AtomicUsize::new(0));
        let made = Arc::clone(&cuts_made);
        let plan = Arc::new(Mutex::new(Plan {
            sent: 0,
            cuts: cuts.into(),
        }));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let made = Arc::clone(&made);
                let plan = Arc::clone(&plan);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await
                        && forward(client, server, &plan).await
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

/// Upstream bytes so far, over all connections, and the cuts to come.
struct Plan {
    sent: u64,
    cuts: VecDeque<u64>,
}

impl Plan {
    /// How much of `read` bytes may go, and whether the connection is cut
    /// after them.
    fn take(&mut self, read: usize) -> (usize, bool) {
        let Some(&cut) = self.cuts.front() else {
            self.sent += read as u64;
            return (read, false);
        };
        let allowed = (read as u64).min(cut.saturating_sub(self.sent));
        self.sent += allowed;
        if self.sent >= cut {
            self.cuts.pop_front();
            (allowed as usize, true)
        } else {
            (allowed as usize, false)
        }
    }
}

/// Copies both ways until either side closes or the plan cuts it. Returns
/// whether it cut the connection.
async fn forward(client: TcpStream, server: TcpStream, plan: &Mutex<Plan>) -> bool {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => read,
            };
            let Ok((allowed, cut)) = plan.lock().map(|mut plan| plan.take(read)) else {
                return false;
            };
            if server_write.write_all(&buffer[..allowed]).await.is_err() {
                return false;
            }
            if cut {
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
