//! One task per plugin, fed through a bounded mailbox.
//!
//! The task owns the plugin's calls: events are handled one at a time, in the
//! order they came, and guest code runs off the executor (the plugin runtime's
//! `handle_event` does that), so a slow or looping plugin delays only its own
//! mailbox. A full mailbox refuses the sender at once ([`ManagerError::Busy`])
//! rather than queueing without bound.

use std::sync::Arc;

use plugin_system_core::{Plugin, PluginContext, PluginError, PluginEvent, PluginResponse};
use tokio::sync::{mpsc, oneshot};

use crate::{ManagerError, stats::PluginCounters};

/// What a plugin's task is asked to do.
enum Message {
    Initialize(PluginContext, oneshot::Sender<Result<(), PluginError>>),
    /// An event, and how many plugin-to-plugin hops led to it.
    Event(
        PluginEvent,
        u32,
        oneshot::Sender<Result<PluginResponse, PluginError>>,
    ),
    Dispose(oneshot::Sender<Result<(), PluginError>>),
}

/// The sending side of a plugin's mailbox. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Mailbox {
    id: Arc<str>,
    sender: mpsc::Sender<Message>,
    capacity: usize,
}

impl Mailbox {
    /// Starts the task of `plugin` on the current tokio runtime.
    pub(crate) fn start(
        id: &str,
        plugin: Arc<dyn Plugin>,
        capacity: usize,
        counters: Arc<PluginCounters>,
    ) -> Self {
        let capacity = capacity.max(1);
        let (sender, mut receiver) = mpsc::channel(capacity);
        tokio::spawn(async move {
            while let Some(message) = receiver.recv().await {
                match message {
                    Message::Initialize(context, reply) => {
                        let _ = reply.send(plugin.initialize(context).await);
                    }
                    Message::Event(event, depth, reply) => {
                        counters.set_depth(depth);
                        let started = std::time::Instant::now();
                        let outcome = plugin.handle_event(event).await;
                        counters.record(started.elapsed(), outcome.is_ok());
                        let _ = reply.send(outcome);
                    }
                    Message::Dispose(reply) => {
                        let _ = reply.send(plugin.dispose().await);
                        // Nothing after a dispose: the task ends, and what is
                        // still queued is answered `Stopped` as it is dropped.
                        break;
                    }
                }
            }
        });
        Mailbox {
            id: id.into(),
            sender,
            capacity,
        }
    }

    /// Queues a message, or says why not at once.
    fn post(&self, message: Message) -> Result<(), ManagerError> {
        self.sender.try_send(message).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ManagerError::Busy {
                id: self.id.to_string(),
                capacity: self.capacity,
            },
            mpsc::error::TrySendError::Closed(_) => self.stopped(),
        })
    }

    fn stopped(&self) -> ManagerError {
        ManagerError::Stopped {
            id: self.id.to_string(),
        }
    }

    fn failed(&self, source: PluginError) -> ManagerError {
        ManagerError::Plugin {
            id: self.id.to_string(),
            source,
        }
    }

    /// Queues `event`; the answer comes when the plugin has handled it.
    ///
    /// # Errors
    /// [`ManagerError::Busy`] at once when the mailbox is full.
    pub(crate) fn event(
        &self,
        event: PluginEvent,
    ) -> Result<impl Future<Output = Result<PluginResponse, ManagerError>> + use<>, ManagerError>
    {
        self.event_at(event, 0)
    }

    /// Queues `event`, `depth` plugin-to-plugin hops from the host.
    pub(crate) fn event_at(
        &self,
        event: PluginEvent,
        depth: u32,
    ) -> Result<impl Future<Output = Result<PluginResponse, ManagerError>> + use<>, ManagerError>
    {
        let (reply, answer) = oneshot::channel();
        self.post(Message::Event(event, depth, reply))?;
        let this = self.clone();
        Ok(async move {
            match answer.await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(e)) => Err(this.failed(e)),
                Err(_) => Err(this.stopped()),
            }
        })
    }

    /// Asks the task for `make`'s message, waiting for a place in the
    /// mailbox, and waits for the answer.
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, PluginError>>) -> Message,
    ) -> Result<T, ManagerError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(make(reply))
            .await
            .map_err(|_| self.stopped())?;
        answer
            .await
            .map_err(|_| self.stopped())?
            .map_err(|e| self.failed(e))
    }

    /// Initializes the plugin.
    pub(crate) async fn initialize(&self, context: PluginContext) -> Result<(), ManagerError> {
        self.request(|reply| Message::Initialize(context, reply))
            .await
    }

    /// Disposes the plugin after the events queued before, and ends its task.
    pub(crate) async fn dispose(&self) -> Result<(), ManagerError> {
        self.request(Message::Dispose).await
    }
}
