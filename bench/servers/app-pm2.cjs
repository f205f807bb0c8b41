// pm2 starts cluster-mode apps with require(): this loads the ESM app (MODE=plain).
import('./app.mjs');
