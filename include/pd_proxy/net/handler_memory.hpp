// Memory for the handler of an object's one pending asynchronous operation, so a loop of them allocates
// nothing.
#pragma once

#include <cstddef>
#include <new>

namespace pd_proxy {

/// One block for the handler of the single operation its owner has pending at a time. Asio frees an
/// operation's memory before it calls the handler, so the next operation, started from that handler, gets the
/// block again. A request that does not fit, or that comes while the block is taken, goes to operator new.
/// Not thread-safe: for an owner whose operations run on one thread.
class handler_memory {
 public:
  static constexpr std::size_t size = 256;

  handler_memory() = default;
  handler_memory(const handler_memory&) = delete;
  handler_memory& operator=(const handler_memory&) = delete;

  void* allocate(std::size_t n) {
    if (!in_use_ && n <= size) {
      in_use_ = true;
      return storage_;
    }
    ++fallbacks_;
    return ::operator new(n);
  }

  void deallocate(void* p) {
    if (p == storage_) {
      in_use_ = false;
    } else {
      ::operator delete(p);
    }
  }

  /// How many requests went to operator new (for tests).
  std::size_t fallbacks() const { return fallbacks_; }

 private:
  alignas(std::max_align_t) unsigned char storage_[size];
  bool in_use_ = false;
  std::size_t fallbacks_ = 0;
};

/// A standard allocator over a handler_memory, to give an operation with net::bind_allocator. The memory
/// must outlive the operation (the handler holding its owner is enough).
template <typename T>
class handler_allocator {
 public:
  using value_type = T;

  explicit handler_allocator(handler_memory& memory) noexcept : memory_(&memory) {}
  template <typename U>
  handler_allocator(const handler_allocator<U>& other) noexcept : memory_(other.memory_) {}

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= alignof(std::max_align_t), "the block and operator new align to max_align_t");
    return static_cast<T*>(memory_->allocate(sizeof(T) * n));
  }
  void deallocate(T* p, std::size_t) noexcept { memory_->deallocate(p); }

  template <typename U>
  bool operator==(const handler_allocator<U>& other) const noexcept {
    return memory_ == other.memory_;
  }

 private:
  template <typename>
  friend class handler_allocator;
  handler_memory* memory_;
};

}  // namespace pd_proxy
