/** Tasks: the heads and losses added on top of a model's outputs (seq-cls, embedding). */
package dev.loraort.builder.heads;
