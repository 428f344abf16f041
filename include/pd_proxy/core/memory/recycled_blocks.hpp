// Memory blocks of one size kept per thread and reused: for objects a thread makes once per request that are
// too large for the allocator's fast path, or made so often that its per-size caches run dry.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace pd_proxy {

/// Makes `T`s in blocks that, once the object is gone, stay with the thread that freed them (at most `kept`)
/// for the next one: a request allocates no large block in the steady state. glibc serves a block of more
/// than 1 KiB by sorting and splitting its bins, which for a PD driver (about 11 KiB, most of it the relay
/// buffer) cost several thousand instructions per request; and its per-thread cache keeps only 7 blocks of a
/// size, fewer than the requests a worker has in flight. Objects must be destroyed on a thread (any one).
template <class T, std::size_t kept = 256>
class recycled_blocks {
 public:
  struct deleter {
    void operator()(T* object) const {
      object->~T();
      give(object);
    }
  };
  using pointer = std::unique_ptr<T, deleter>;

  template <class... Args>
  static pointer make(Args&&... args) {
    void* block = take();
    try {
      return pointer(new (block) T(std::forward<Args>(args)...));
    } catch (...) {
      give(block);
      throw;
    }
  }

  /// A block for one T (for a class's own operator new).
  static void* take() {
    auto& list = blocks().blocks;
    if (list.empty()) return ::operator new(sizeof(T), alignment);
    void* block = list.back();
    list.pop_back();
    return block;
  }

  /// Takes back a block of take() whose object was destroyed.
  static void give(void* block) noexcept {
    auto& list = blocks().blocks;
    if (list.size() < kept) {
      list.push_back(block);  // within the reserved capacity
      return;
    }
    ::operator delete(block, alignment);
  }

 private:
  static constexpr std::align_val_t alignment{alignof(T)};

  struct free_list {
    std::vector<void*> blocks;
    free_list() { blocks.reserve(kept); }  // so that give() never allocates
    free_list(const free_list&) = delete;
    free_list& operator=(const free_list&) = delete;
    ~free_list() {
      for (void* block : blocks) ::operator delete(block, alignment);
    }
  };

  static free_list& blocks() {
    thread_local free_list list;
    return list;
  }
};

}  // namespace pd_proxy
