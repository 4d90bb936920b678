// See fault_vfs.hpp: the callbacks forward to the real "unix" VFS and keep
// the undo logs of tracked files (main databases, WALs, rollback journals).
#include "fault_vfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace tally::test {
namespace {

constexpr std::int64_t kSector = 512;
constexpr const char* kName = "tally-fault";

struct File {
  sqlite3_file base;  // must be first: SQLite sees a File* as a sqlite3_file*
  FaultVfs* vfs;
  const std::string* name;  // FaultVfs::names_ holds it; null for untracked (temp) files
  sqlite3_file* real;
};

File* self(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
FaultVfs* owner(sqlite3_vfs* v) { return static_cast<FaultVfs*>(v->pAppData); }

std::int64_t real_size(File* f) {
  sqlite3_int64 n = 0;
  if (f->real->pMethods->xFileSize(f->real, &n) != SQLITE_OK) return 0;
  return n;
}

int x_close(sqlite3_file* pf) {
  File* f = self(pf);
  const int rc = f->real->pMethods->xClose(f->real);
  f->vfs->closed(pf);
  f->name = nullptr;
  return rc;
}

int x_read(sqlite3_file* pf, void* buf, int amt, sqlite3_int64 off) {
  File* f = self(pf);
  if (f->vfs->powered_off()) return SQLITE_IOERR_READ;
  return f->real->pMethods->xRead(f->real, buf, amt, off);
}

int x_write(sqlite3_file* pf, const void* buf, int amt, sqlite3_int64 off) {
  File* f = self(pf);
  if (f->name != nullptr) {
    if (const int rc = f->vfs->gate(); rc != SQLITE_OK) return rc;
    FaultVfs::Undo u;
    u.offset = off;
    u.old_bytes.assign(static_cast<std::size_t>(amt), '\0');
    // Past the end the real xRead zero-fills and says SQLITE_IOERR_SHORT_READ.
    const int rc = f->real->pMethods->xRead(f->real, u.old_bytes.data(), amt, off);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
    f->vfs->state(*f->name).undo.push_back(std::move(u));
  }
  return f->real->pMethods->xWrite(f->real, buf, amt, off);
}

int x_truncate(sqlite3_file* pf, sqlite3_int64 size) {
  File* f = self(pf);
  if (f->name != nullptr) {
    if (const int rc = f->vfs->gate(); rc != SQLITE_OK) return rc;
    const std::int64_t now = real_size(f);
    if (now > size) {  // the cut-off bytes come back if the truncation is lost
      FaultVfs::Undo u;
      u.offset = size;
      u.old_bytes.assign(static_cast<std::size_t>(now - size), '\0');
      const int rc = f->real->pMethods->xRead(f->real, u.old_bytes.data(), static_cast<int>(now - size), size);
      if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
      f->vfs->state(*f->name).undo.push_back(std::move(u));
    }
  }
  return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* pf, int flags) {
  File* f = self(pf);
  if (f->name == nullptr) return f->real->pMethods->xSync(f->real, flags);
  if (const int rc = f->vfs->gate(); rc != SQLITE_OK) return rc;
  // Durable from here on (the model decides; no real fsync needed).
  auto& st = f->vfs->state(*f->name);
  st.undo.clear();
  st.synced_size = real_size(f);
  return SQLITE_OK;
}

int x_file_size(sqlite3_file* pf, sqlite3_int64* size) {
  File* f = self(pf);
  if (f->vfs->powered_off()) return SQLITE_IOERR_FSTAT;
  return f->real->pMethods->xFileSize(f->real, size);
}
int x_lock(sqlite3_file* pf, int l) { return self(pf)->real->pMethods->xLock(self(pf)->real, l); }
int x_unlock(sqlite3_file* pf, int l) { return self(pf)->real->pMethods->xUnlock(self(pf)->real, l); }
int x_check_reserved(sqlite3_file* pf, int* out) {
  return self(pf)->real->pMethods->xCheckReservedLock(self(pf)->real, out);
}
int x_file_control(sqlite3_file* pf, int op, void* arg) {
  return self(pf)->real->pMethods->xFileControl(self(pf)->real, op, arg);
}
int x_sector_size(sqlite3_file* pf) { return self(pf)->real->pMethods->xSectorSize(self(pf)->real); }
int x_device_characteristics(sqlite3_file* pf) {
  // Claim no atomic or sequential writes: SQLite must not rely on either.
  return self(pf)->real->pMethods->xDeviceCharacteristics(self(pf)->real) &
         ~(SQLITE_IOCAP_ATOMIC | SQLITE_IOCAP_ATOMIC512 | SQLITE_IOCAP_ATOMIC1K | SQLITE_IOCAP_ATOMIC2K |
           SQLITE_IOCAP_ATOMIC4K | SQLITE_IOCAP_ATOMIC8K | SQLITE_IOCAP_ATOMIC16K | SQLITE_IOCAP_ATOMIC32K |
           SQLITE_IOCAP_ATOMIC64K | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL |
           SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_BATCH_ATOMIC);
}
// The -shm file is memory shared between connections, rebuilt from the WAL
// by the first connection after a crash: passed through untouched.
int x_shm_map(sqlite3_file* pf, int page, int size, int extend, void volatile** out) {
  return self(pf)->real->pMethods->xShmMap(self(pf)->real, page, size, extend, out);
}
int x_shm_lock(sqlite3_file* pf, int offset, int n, int flags) {
  return self(pf)->real->pMethods->xShmLock(self(pf)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* pf) { self(pf)->real->pMethods->xShmBarrier(self(pf)->real); }
int x_shm_unmap(sqlite3_file* pf, int del) { return self(pf)->real->pMethods->xShmUnmap(self(pf)->real, del); }

// iVersion 2: no xFetch, so SQLite never reads through mmap behind our back.
const sqlite3_io_methods kIo = {
    2,           x_close,          x_read,        x_write,  x_truncate,     x_sync,
    x_file_size, x_lock,           x_unlock,      x_check_reserved,         x_file_control,
    x_sector_size, x_device_characteristics,      x_shm_map, x_shm_lock,    x_shm_barrier,
    x_shm_unmap, nullptr,          nullptr};

int v_open(sqlite3_vfs* v, sqlite3_filename name, sqlite3_file* pf, int flags, int* out_flags) {
  FaultVfs* fv = owner(v);
  File* f = self(pf);
  f->base.pMethods = nullptr;
  f->vfs = fv;
  f->name = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(pf) + sizeof(File));
  if (fv->powered_off()) return SQLITE_IOERR;
  const int rc = fv->real()->xOpen(fv->real(), name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) return rc;
  f->base.pMethods = &kIo;
  const bool tracked =
      name != nullptr && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0;
  f->name = fv->opened(pf, tracked ? name : "");
  if (tracked) {
    auto& st = fv->state(*f->name);
    if (st.undo.empty()) st.synced_size = real_size(f);
  }
  return rc;
}

int v_delete(sqlite3_vfs* v, const char* name, int sync_dir) {
  FaultVfs* fv = owner(v);
  if (fv->powered_off()) return SQLITE_IOERR_DELETE;
  fv->forget(name);  // an unlink is taken as durable at once
  return fv->real()->xDelete(fv->real(), name, sync_dir);
}
int v_access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return owner(v)->real()->xAccess(owner(v)->real(), name, flags, out);
}
int v_full_pathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return owner(v)->real()->xFullPathname(owner(v)->real(), name, n, out);
}
void* v_dlopen(sqlite3_vfs* v, const char* name) { return owner(v)->real()->xDlOpen(owner(v)->real(), name); }
void v_dlerror(sqlite3_vfs* v, int n, char* out) { owner(v)->real()->xDlError(owner(v)->real(), n, out); }
void (*v_dlsym(sqlite3_vfs* v, void* h, const char* sym))(void) {
  return owner(v)->real()->xDlSym(owner(v)->real(), h, sym);
}
void v_dlclose(sqlite3_vfs* v, void* h) { owner(v)->real()->xDlClose(owner(v)->real(), h); }
int v_randomness(sqlite3_vfs* v, int n, char* out) { return owner(v)->real()->xRandomness(owner(v)->real(), n, out); }
int v_sleep(sqlite3_vfs* v, int us) { return owner(v)->real()->xSleep(owner(v)->real(), us); }
int v_current_time(sqlite3_vfs* v, double* out) { return owner(v)->real()->xCurrentTime(owner(v)->real(), out); }
int v_last_error(sqlite3_vfs* v, int n, char* out) { return owner(v)->real()->xGetLastError(owner(v)->real(), n, out); }
int v_current_time64(sqlite3_vfs* v, sqlite3_int64* out) {
  return owner(v)->real()->xCurrentTimeInt64(owner(v)->real(), out);
}

// Restores [from, to) of `path` from `u` (offsets relative to the file).
void restore(int fd, const FaultVfs::Undo& u, std::int64_t from, std::int64_t to) {
  const auto n = static_cast<std::size_t>(to - from);
  if (::pwrite(fd, u.old_bytes.data() + (from - u.offset), n, from) != static_cast<ssize_t>(n)) {
    throw std::runtime_error("fault_vfs: restoring a lost write failed");
  }
}

}  // namespace

FaultVfs::FaultVfs() {
  real_ = sqlite3_vfs_find("unix");
  if (real_ == nullptr) throw std::runtime_error("fault_vfs: no unix VFS");
  vfs_.iVersion = 2;
  vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
  vfs_.mxPathname = real_->mxPathname;
  vfs_.zName = kName;
  vfs_.pAppData = this;
  vfs_.xOpen = v_open;
  vfs_.xDelete = v_delete;
  vfs_.xAccess = v_access;
  vfs_.xFullPathname = v_full_pathname;
  vfs_.xDlOpen = v_dlopen;
  vfs_.xDlError = v_dlerror;
  vfs_.xDlSym = v_dlsym;
  vfs_.xDlClose = v_dlclose;
  vfs_.xRandomness = v_randomness;
  vfs_.xSleep = v_sleep;
  vfs_.xCurrentTime = v_current_time;
  vfs_.xGetLastError = v_last_error;
  vfs_.xCurrentTimeInt64 = v_current_time64;
  if (sqlite3_vfs_register(&vfs_, 1) != SQLITE_OK) throw std::runtime_error("fault_vfs: register failed");
}

FaultVfs::~FaultVfs() {
  sqlite3_vfs_register(real_, 1);
  sqlite3_vfs_unregister(&vfs_);
}

void FaultVfs::use_fault_vfs() { sqlite3_vfs_register(&vfs_, 1); }
void FaultVfs::use_real_vfs() { sqlite3_vfs_register(real_, 1); }

void FaultVfs::arm_power_loss(std::uint64_t after_ops) { crash_at_ = ops_ + after_ops + 1; }

void FaultVfs::fail_writes(int code, std::uint64_t after_ops) {
  fail_code_ = code;
  fail_at_ = ops_ + after_ops + 1;
}

int FaultVfs::gate() {
  if (powered_off_) return SQLITE_IOERR_WRITE;
  ++ops_;
  if (crash_at_ != 0 && ops_ >= crash_at_) {
    powered_off_ = true;
    return SQLITE_IOERR_WRITE;
  }
  if (fail_code_ != 0 && ops_ >= fail_at_) return fail_code_;
  return SQLITE_OK;
}

void FaultVfs::lose_unsynced(std::mt19937_64& rng) {
  if (!names_.empty()) throw std::logic_error("fault_vfs: lose_unsynced with files still open");
  for (auto& [name, st] : files_) {
    const int fd = ::open(name.c_str(), O_WRONLY);
    if (fd < 0) continue;  // deleted meanwhile
    // Newest first, so an older write's old bytes win where both are lost.
    for (auto it = st.undo.rbegin(); it != st.undo.rend(); ++it) {
      const std::int64_t begin = it->offset;
      const auto end = begin + static_cast<std::int64_t>(it->old_bytes.size());
      switch (rng() % 3) {
        case 0:  // reached the disk
          break;
        case 1:  // lost
          restore(fd, *it, begin, end);
          break;
        default: {  // torn: each sector independently kept or lost
          for (std::int64_t s = begin; s < end; s = (s / kSector + 1) * kSector) {
            const std::int64_t e = std::min(end, (s / kSector + 1) * kSector);
            if (rng() % 2 == 0) restore(fd, *it, s, e);
          }
          break;
        }
      }
    }
    if (!st.undo.empty() && rng() % 2 == 0) {
      // The size change never reached the disk either.
      if (::ftruncate(fd, st.synced_size) != 0) {
        ::close(fd);
        throw std::runtime_error("fault_vfs: truncate failed");
      }
    }
    ::close(fd);
  }
  files_.clear();
  powered_off_ = false;
  crash_at_ = 0;
}

}  // namespace tally::test
