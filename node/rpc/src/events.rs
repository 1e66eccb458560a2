//! `events_get`: contract events of committed blocks, filtered and paginated.

use crate::Rpc;
use crate::api::{EventsPage, EventsParams, LocatedEvent};
use crate::jsonrpc::RpcError;
use phalanx_types::Height;

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;
/// Most heights one call scans (a page stops early at this many blocks).
const MAX_SPAN: u64 = 10_000;

/// A position: (height, tx index, event index) of the next event to return.
fn parse_cursor(c: &str) -> Result<(Height, u32, u32), RpcError> {
    let bad = || RpcError::params(format!("cursor {c:?} is not one returned by events_get"));
    let mut parts = c.split(':');
    let mut next = || parts.next().ok_or_else(bad);
    let h = next()?.parse().map_err(|_| bad())?;
    let t = next()?.parse().map_err(|_| bad())?;
    let e = next()?.parse().map_err(|_| bad())?;
    Ok((h, t, e))
}

pub(crate) fn get(rpc: &Rpc, p: EventsParams) -> Result<EventsPage, RpcError> {
    if p.to_height < p.from_height {
        return Err(RpcError::params("to_height is below from_height"));
    }
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(RpcError::params(format!("limit must be 1 to {MAX_LIMIT}")));
    }
    let start = match &p.cursor {
        Some(c) => parse_cursor(c)?,
        None => (p.from_height.max(1), 0, 0),
    };
    if start.0 < p.from_height {
        return Err(RpcError::params("cursor is before from_height"));
    }
    rpc.check_block(start.0, "events")?;
    let latest = rpc.blocks.latest_height().map_err(RpcError::internal)?;
    let end = p
        .to_height
        .min(latest)
        .min(start.0.saturating_add(MAX_SPAN - 1));
    let mut out = Vec::new();
    let mut next_cursor = None;
    'heights: for h in start.0..=end {
        for r in rpc.blocks.receipts(h).map_err(RpcError::internal)? {
            if h == start.0 && r.index < start.1 {
                continue;
            }
            for (ei, e) in r.events.iter().enumerate() {
                let ei = ei as u32;
                if h == start.0 && r.index == start.1 && ei < start.2 {
                    continue;
                }
                if p.address.is_some_and(|a| a != e.contract)
                    || p.topic.as_ref().is_some_and(|t| *t != e.topic)
                {
                    continue;
                }
                if out.len() == limit {
                    next_cursor = Some(format!("{h}:{}:{ei}", r.index));
                    break 'heights;
                }
                out.push(LocatedEvent::new(&r, ei as usize, e));
            }
        }
    }
    // Heights pruned while they were read give no receipts: refuse rather than skip them.
    rpc.check_block(start.0, "events")?;
    // The span cap stopped the scan before to_height: continue from the next height.
    if next_cursor.is_none() && end < p.to_height.min(latest) {
        next_cursor = Some(format!("{}:0:0", end + 1));
    }
    Ok(EventsPage {
        events: out,
        next_cursor,
    })
}
