# Source: https://github.com/keras-team/keras/blob/master/keras/src/callbacks/backup_and_restore.py
#   (the "Example:" of the keras.callbacks.BackupAndRestore docstring, Keras 3.15.1, also
#   shown on https://keras.io/api/callbacks/backup_and_restore/)
# License: Apache-2.0 (keras-team/keras)
# Changes from the original:
#   (a) the doctest's implicit `import keras` / `import numpy as np` are written out, with
#       `import tensorlib as keras`; the `>>>` / `...` prompts are removed and the
#       expected output line `>>> 6` becomes a print and a comment
#   One non-Keras change: backup_dir "/tmp/backup" -> "backup" (inside the working
#   directory, so concurrent runs cannot share a backup).

import numpy as np
import tensorlib as keras


class InterruptingCallback(keras.callbacks.Callback):
  def on_epoch_begin(self, epoch, logs=None):
    if epoch == 4:
      raise RuntimeError('Interrupting!')
callback = keras.callbacks.BackupAndRestore(backup_dir="backup")
model = keras.models.Sequential([keras.layers.Dense(10)])
model.compile(keras.optimizers.SGD(), loss='mse')
model.build(input_shape=(None, 20))
try:
  model.fit(np.arange(100).reshape(5, 20), np.zeros(5), epochs=10,
            batch_size=1, callbacks=[callback, InterruptingCallback()],
            verbose=0)
except:
  pass
history = model.fit(np.arange(100).reshape(5, 20), np.zeros(5),
                    epochs=10, batch_size=1, callbacks=[callback],
                    verbose=0)
# Only 6 more epochs are run, since first training got interrupted at
# zero-indexed epoch 4, second training will continue from 4 to 9.
print(len(history.history['loss']))
# 6
