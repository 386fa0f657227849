package dev.loraort.trainer.data;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * A deduplicated train/validation split in a seeded random order.
 *
 * @param <T> the item type
 * @param train the training items
 * @param validation the validation items
 * @param duplicates items dropped because an earlier item had the same key
 */
public record Split<T>(List<T> train, List<T> validation, int duplicates) {
  /** Copies the lists. */
  public Split {
    train = List.copyOf(train);
    validation = List.copyOf(validation);
  }

  /**
   * Drops items whose key an earlier item had (the first is kept), shuffles the rest with the seed
   * and holds out the first {@code validationFraction} of them.
   *
   * @param <T> the item type
   * @param items the items
   * @param key what makes two items duplicates (compared with equals)
   * @param validationFraction the share held out, in [0, 1)
   * @param seed the shuffle's seed
   * @return the split
   */
  public static <T> Split<T> of(
      List<T> items, Function<T, ?> key, double validationFraction, long seed) {
    if (!(validationFraction >= 0 && validationFraction < 1)) {
      throw new IllegalArgumentException(
          "validation fraction must be in [0, 1), got " + validationFraction);
    }
    Set<Object> seen = new HashSet<>();
    List<T> unique = new ArrayList<>();
    for (T item : items) {
      if (seen.add(key.apply(item))) {
        unique.add(item);
      }
    }
    SplittableRandom rng = new SplittableRandom(seed);
    for (int i = unique.size() - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      T t = unique.get(i);
      unique.set(i, unique.get(j));
      unique.set(j, t);
    }
    int nVal = (int) Math.round(validationFraction * unique.size());
    return new Split<>(
        unique.subList(nVal, unique.size()), unique.subList(0, nVal), items.size() - unique.size());
  }
}
