//! The RocksDB [`KvStore`]: one column family per [`Column`], atomic write batches, and
//! fsync'd writes where durability matters.

use crate::error::StorageError;
use crate::kv::{Column, Durability, KvPair, KvStore, WriteBatch};
use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, ReadOptions,
    WriteOptions,
};
use std::path::Path;

/// Write-ahead-log bytes kept before the oldest log's column families are flushed.
const MAX_TOTAL_WAL_BYTES: u64 = 64 * 1024 * 1024;

/// A RocksDB database.
pub struct RocksStore {
    db: DB,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.db.path())
            .finish()
    }
}

impl RocksStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<RocksStore, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_open_files(512);
        opts.set_keep_log_file_num(4);
        // RocksDB's own info log: rotated, so it cannot grow without bound either.
        opts.set_max_log_file_size(1024 * 1024);
        opts.increase_parallelism(2);
        // The write-ahead log is kept until every column family's memtable holding its writes
        // is flushed; rarely written families (evidence, code) would otherwise keep gigabytes
        // of it (the default bound is 4 × all write buffers). Past this size RocksDB flushes
        // the families that pin the oldest log.
        opts.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
        let cfs = Column::ALL.iter().map(|c| {
            let mut cf = Options::default();
            cf.set_compression_type(rocksdb::DBCompressionType::Lz4);
            let mut table = BlockBasedOptions::default();
            table.set_bloom_filter(10.0, false);
            cf.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(c.name(), cf)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(RocksStore { db })
    }

    /// Opens the database at `path` for reading only: it may be open for writing by a running
    /// node at the same time, and this handle sees the data as of opening. Columns a database
    /// written by an earlier version lacks (it creates them when it next opens for writing)
    /// read as empty.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<RocksStore, StorageError> {
        let opts = Options::default();
        let existing = DB::list_cf(&opts, path.as_ref())?;
        let names = Column::ALL
            .iter()
            .map(|c| c.name())
            .filter(|n| existing.iter().any(|e| e == n));
        let db = DB::open_cf_for_read_only(&opts, path, names, false)?;
        Ok(RocksStore { db })
    }

    /// The column's handle: every column exists in a store opened for writing; a read-only
    /// store of an earlier version may lack one.
    fn cf(&self, col: Column) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db.cf_handle(col.name()).ok_or(StorageError::Corrupt {
            column: col.name(),
            reason: "column family missing (a read-only store of an earlier version)".into(),
        })
    }

    /// Flushes memtables to disk (used on graceful shutdown).
    pub fn flush(&self) -> Result<(), StorageError> {
        for c in Column::ALL {
            if let Ok(cf) = self.cf(c) {
                self.db.flush_cf(cf)?;
            }
        }
        Ok(())
    }
}

impl KvStore for RocksStore {
    fn compact(&self, col: Column) -> Result<(), StorageError> {
        if let Ok(cf) = self.cf(col) {
            self.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.cf(col) {
            Ok(cf) => Ok(self.db.get_cf(cf, key)?),
            Err(_) => Ok(None),
        }
    }

    fn scan(
        &self,
        col: Column,
        prefix: &[u8],
        start: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        let from = match start {
            Some(s) if s > prefix => s,
            _ => prefix,
        };
        let Ok(cf) = self.cf(col) else {
            return Ok(Vec::new());
        };
        let mut read = ReadOptions::default();
        read.set_total_order_seek(true);
        let iter = self
            .db
            .iterator_cf_opt(cf, read, IteratorMode::From(from, Direction::Forward));
        let mut out = Vec::new();
        for item in iter {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), StorageError> {
        let mut wb = rocksdb::WriteBatch::default();
        for (col, key, value) in batch.ops {
            let cf = self.cf(col)?;
            match value {
                Some(v) => wb.put_cf(cf, key, v),
                None => wb.delete_cf(cf, key),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(durability == Durability::Sync);
        self.db.write_opt(wb, &wo)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvStore;

    /// A database of a version without the newest column (here the sender index) opens for
    /// reading (a state export, state sync's check of a home) and reads that column as empty;
    /// opening it for writing creates the column.
    #[test]
    fn a_database_of_an_earlier_version_opens_read_only() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            opts.create_missing_column_families(true);
            let older = Column::ALL
                .iter()
                .filter(|c| **c != Column::SenderIndex)
                .map(|c| c.name());
            let db = DB::open_cf(&opts, dir.path(), older).unwrap();
            let meta = db.cf_handle(Column::Meta.name()).unwrap();
            db.put_cf(meta, b"k", b"v").unwrap();
        }
        let ro = RocksStore::open_read_only(dir.path()).unwrap();
        assert_eq!(ro.get(Column::Meta, b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(ro.get(Column::SenderIndex, b"x").unwrap(), None);
        assert!(
            ro.scan(Column::SenderIndex, b"", None, 10)
                .unwrap()
                .is_empty()
        );
        let mut b = crate::kv::WriteBatch::new();
        b.put(Column::SenderIndex, b"x".to_vec(), b"y".to_vec());
        assert!(ro.write(b, crate::kv::Durability::Buffered).is_err());
        drop(ro);
        let rw = RocksStore::open(dir.path()).unwrap();
        rw.put(Column::SenderIndex, b"x", b"y").unwrap();
        assert_eq!(
            rw.get(Column::SenderIndex, b"x").unwrap(),
            Some(b"y".to_vec())
        );
    }
}
