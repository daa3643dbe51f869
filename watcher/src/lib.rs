//! Shared block watchers: for each network with an active monitor anywhere, exactly one
//! watcher in the fleet holds the network's lease, polls its RPC and publishes each
//! confirmed block once, in order, to the network's stream on the bus.
