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
    /// node at the same time, and this handle sees the data as of opening.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<RocksStore, StorageError> {
        let opts = Options::default();
        let names = Column::ALL.iter().map(|c| c.name());
        let db = DB::open_cf_for_read_only(&opts, path, names, false)?;
        Ok(RocksStore { db })
    }

    fn cf(&self, col: Column) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(col.name())
            .expect("every column family is created at open")
    }

    /// Flushes memtables to disk (used on graceful shutdown).
    pub fn flush(&self) -> Result<(), StorageError> {
        for c in Column::ALL {
            self.db.flush_cf(self.cf(c))?;
        }
        Ok(())
    }
}

impl KvStore for RocksStore {
    fn compact(&self, col: Column) -> Result<(), StorageError> {
        self.db
            .compact_range_cf(self.cf(col), None::<&[u8]>, None::<&[u8]>);
        Ok(())
    }

    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.db.get_cf(self.cf(col), key)?)
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
        let mut read = ReadOptions::default();
        read.set_total_order_seek(true);
        let iter = self.db.iterator_cf_opt(
            self.cf(col),
            read,
            IteratorMode::From(from, Direction::Forward),
        );
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
            let cf = self.cf(col);
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
